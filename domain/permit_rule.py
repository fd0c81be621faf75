"""The permit rule: when a station's valve may be permitted to open. The one statement of it.

The valve is energised for a fill only while all of these hold:

1. The fill is under way: the station's core decided it (every interlock condition passed at the
   start, with a stable reading) and has not ended it (no cut-off, abort, stop, pause, lost
   device or failed recheck since; those are judged on every message the core takes).
2. The fill's open marker is durable: the `FillOpened` record the core asked to store when it
   decided the fill has been written. Why: a supervisor killed during a fill must leave a marker
   from which the next start records the fill as interrupted, so gas never flows for a fill that
   storage does not know of. The record sink calls back once the marker is durable, the
   coordinator turns that into `FillMarked(record_id)` through the station's inbox (so it never
   overtakes a stop, a removal or a lost device queued before it), and the core matches it to its
   fill by record id, never by object identity.
3. The station's scale actor runs and 4. its valve actor runs: a fill is watched by the scale and
   cut off by the valve; with either down nobody would close in time. Their supervisor tells the
   permit gate of every health change, before a restart and as an actor stops.
5. The station is in service: not given up by its supervisor, not taken out by maintenance.
6. The floor is not shutting down.

Conditions 1 and 2 are the core's to know (`may_permit` when the marker arrives); 3 to 6 are the
runtime's (`permit_blockers`, asked through the permit gate). The core orders the permit open
only when `may_permit` holds; the valve actor energises it only while that order stands and
`may_energise` holds at the very moment of the write (the runtime may have changed since), and
the gate closes it at once on any revocation. So no single place has to be right alone.
"""

from __future__ import annotations

from domain.reasons import Reason

__all__ = ["may_energise", "may_permit", "permit_blockers"]


def permit_blockers(
    *, scale_running: bool, valve_running: bool, in_service: bool, shutting_down: bool
) -> tuple[Reason, ...]:
    """The runtime's conditions (3 to 6) that fail now, as the interlock's reasons (empty: none)."""
    reasons: list[Reason] = []
    if not in_service:
        reasons.append(Reason.STATION_OUT_OF_SERVICE)
    if not scale_running:
        reasons.append(Reason.DEVICE_SCALE_UNAVAILABLE)
    if not valve_running:
        reasons.append(Reason.DEVICE_VALVE_UNAVAILABLE)
    if shutting_down:
        reasons.append(Reason.SUPERVISOR_SHUTDOWN)
    return tuple(reasons)


def may_permit(*, fill_under_way: bool, marker_durable: bool, blockers: tuple[Reason, ...]) -> bool:
    """Whether the core may order the permit open for its fill: the whole rule (1 to 6), the
    runtime's part given as its `permit_blockers`."""
    return fill_under_way and marker_durable and not blockers


def may_energise(*, ordered_open: bool, blockers: tuple[Reason, ...]) -> bool:
    """Whether the valve actor may write the permit on now: the core's order stands (it held the
    rule when given) and the runtime's part holds at this moment."""
    return ordered_open and not blockers
