"""Alarm kinds: the stable identifiers of every alarm the floor raises.

Like reason codes, kinds are contracts: the console, the records, the platform and the operator
documentation (docs/operations/*/alarms.md, kept honest by tests/project/test_docs_operations.py) match on
them. Some kinds are also reason codes (a lost scale both aborts a fill and raises an alarm); the
values are then the same strings. Never rename a kind; add new ones.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AlarmKind"]


class AlarmKind(StrEnum):
    """Every kind of alarm the floor raises (the `kind` of `alarm.raised` and of an alarm record)."""

    DEVICE_SCALE_LOST = "device.scale_lost"  # no answer from the scale (or no sample in time)
    DEVICE_VALVE_LOST = "device.valve_lost"  # no answer from the valve
    DEVICE_SCANNER_LOST = "device.scanner_lost"  # the scanner's line is down
    VALVE_STUCK_OPEN = "valve.stuck_open"  # ordered closed, the position switch still says open
    FILL_OVERFILL = "fill.overfill"  # over tolerance: must not leave until the excess is removed
    FILL_OVER_MAX = "fill.over_max"  # above the cylinder's maximum fill
    FILL_READING_NOT_CREDIBLE = "fill.reading_not_credible"  # the fill guard closed the valve
    FILL_REWEIGH_UNSTABLE = "fill.reweigh_unstable"  # no stable re-weigh: last reading recorded
    CHECK_POST_FAILED = "check.post_failed"  # a post-fill check failed: the cylinder is held
    CHECK_POST_MISSING = "check.post_missing"  # lifted off without its post-fill check: held
    STORAGE_UNAVAILABLE = "storage.unavailable"  # records cannot be written: no permits
    INTERNAL_ERROR = "internal.error"  # the station closed safe on an unexpected error
    STATION_OUT_OF_SERVICE = "station.out_of_service"  # an actor kept failing past its restart limit
