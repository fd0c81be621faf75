"""The station coordinator: the scan-to-fill interlock, fill control, checks and records.

- messages.py  what devices, check terminals and the console send a station, and what it orders
- (more modules land with the coordinator)
"""
