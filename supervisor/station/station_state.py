"""What a station's core holds: its course (`Phase`), its context, its effects, and its mutable state
in three small typed parts (the course, the fill's lifecycle, faults and alarms), each the concern of
one module of the core (`course.py`, `fill_lifecycle.py`, `faults.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum

from attrs import Factory, define, frozen

from domain.alarm_notices import AlarmNotice
from domain.archive import CylinderArchive
from domain.checks import CheckEntry
from domain.events import FloorEvent
from domain.fill_run import FillRun
from domain.fill_settings import FillSettings
from domain.labels import LabelResult, LabelRule
from domain.messages import IndicatorOrder, PermitOrder
from domain.reasons import Reason
from domain.records import Record
from domain.settings import DomainSettings
from supervisor.station.floor import FloorState


class Phase(StrEnum):
    """A station's course (docs/station.md); the overlays paused/fault/out_of_service are shown above it."""

    IDLE = "idle"
    VERIFYING = "verifying"
    AWAITING_PRECHECK = "awaiting_precheck"
    READY = "ready"
    FILLING = "filling"
    SETTLING = "settling"
    AWAITING_POSTCHECK = "awaiting_postcheck"
    DONE = "done"
    REJECTED = "rejected"


@frozen
class Store:
    """A record for the storage writer (never dropped; the station refuses while storage fails)."""

    record: Record


# What a decision asks for: an event for observers, a record to store, a desired state of a device,
# an alarm raised or cleared (for the floor's alarm desk, which stores and publishes it).
Effect = FloorEvent | Store | PermitOrder | IndicatorOrder | AlarmNotice


@frozen
class StationContext:
    """What a station's decisions depend on besides its messages."""

    station: str
    floor: FloorState
    rules: DomainSettings
    label_rule: LabelRule
    fill: FillSettings
    cutoff: str  # indicator | host
    gate_blockers: Callable[[], tuple[Reason, ...]]  # the permit gate: device actors, out of service
    wall_now: Callable[[], str]  # ISO 8601 UTC, for records
    new_id: Callable[[str], str]  # a fresh record id for a kind ("fill", "check", ...)
    allowed_models: frozenset[str] | None = None
    lang: str = "zh"  # (alarm texts are rendered by the floor's alarm desk, in its language)


@define
class CourseState:
    """Where the station is on its course, and who and what is at it."""

    phase: Phase = Phase.IDLE
    shown: str | None = None  # the state last announced
    badge: str | None = None  # the operator logged in
    label: LabelResult | None = None
    archive: CylinderArchive | None = None
    claimed: str | None = None  # the cylinder this station holds (one cylinder, one station)
    precheck: CheckEntry | None = None
    paused_by: str | None = None
    deadline: float = float("inf")  # of the phase's wait (stable reading, pre-check, re-weigh)
    entered_at: float = 0.0
    # While verifying: since when the readings polled after the scan have stayed within the band.
    steady_since: float | None = None
    steady_lo: Decimal = Decimal(0)
    steady_hi: Decimal = Decimal(0)


@define
class FillLifecycleState:
    """The fill under way, from its decision to its record, and what the valve was last ordered."""

    registry_seen: int  # the registry version the fill was last checked against
    fill: FillRun | None = None
    fill_operator: str | None = None
    fill_started_wall: str = ""
    abort: Reason | None = None
    closed_at: float = 0.0
    permit: bool = False  # what the valve was last ordered
    mismatch_since: float | None = None  # valve feedback disagreeing with the order
    post_check_due: tuple[str, str, float] | None = None  # (code, fill, started) left unchecked


@define
class FaultState:
    """The station's faults and standing alarms, and the health of what it cannot fill without."""

    faults: dict[str, str] = Factory(dict)  # cause -> alarm id
    # cause -> the alarm as raised: its clear says what cleared (the platform refuses an alarm
    # record without its kind).
    fault_alarms: dict[str, AlarmNotice] = Factory(dict)
    standing: dict[str, AlarmNotice] = Factory(dict)  # alarms that clear on a later event
    storage_ok: bool = True
    scanner_lost: bool = False
