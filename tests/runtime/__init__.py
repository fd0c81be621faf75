"""Tests of the actor runtime (supervisor/runtime/): mailboxes, the bus, supervision, shutdown, a
station's safety hook.
"""
