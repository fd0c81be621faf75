"""Tests of station coordination (supervisor/station/): the core's decisions, the coordinator, alarms,
the fill guard.
"""
