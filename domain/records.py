"""What the floor stores: one frozen record type per kind, the writer's input.

`record_id` is the id the platform sees (docs/scenarios.md); it is a UUID made where the record is born,
so a record retried after a crash or a lost reply is still the same record (idempotent upload).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from attrs import field, frozen
from attrs.validators import in_

from domain.fill_guard import StationLearning
from domain.holds import Hold

__all__ = [
    "AlarmRecord",
    "AuditRecord",
    "CheckRecord",
    "FillOpened",
    "FillRecord",
    "HoldRecord",
    "LearningRecord",
    "Record",
    "RefusalRecord",
]


@frozen
class FillRecord:
    record_id: str
    cylinder: str
    station: str
    operator: str | None
    outcome: str = field(validator=in_(("completed", "aborted", "interrupted")))
    started_at: str  # ISO 8601 UTC
    ended_at: str
    reason: str | None = None  # the abort reason code
    tare_kg: Decimal | None = None
    target_kg: Decimal | None = None
    gross_kg: Decimal | None = None
    net_kg: Decimal | None = None
    error_g: int | None = None
    flags: tuple[str, ...] = field(default=(), converter=lambda v: tuple(sorted(v)))
    gross_before_kg: Decimal | None = None  # the stable reading before the permit
    preact_kg: Decimal | None = None  # the preact the cut-off used
    precheck_id: str | None = None  # the passing pre-fill check (record id) the permit relied on
    topup_of: str | None = None  # a top-up: the under-filled fill (record id) it completes


@frozen
class FillOpened:
    """A fill about to open its valve: made durable before the permit is energised, and closed by
    the fill's own record (same `record_id`) in that record's transaction. One still open when the
    floor starts is a fill the supervisor died during (SIGKILL, power cut): it is recorded then as
    interrupted (`supervisor.storage.interrupted`). Kept locally, not sent to the platform."""

    record_id: str
    cylinder: str
    station: str
    operator: str | None
    started_at: str
    tare_kg: Decimal | None = None
    target_kg: Decimal | None = None
    gross_before_kg: Decimal | None = None
    preact_kg: Decimal | None = None
    precheck_id: str | None = None
    topup_of: str | None = None


@frozen
class CheckRecord:
    record_id: str
    cylinder: str
    phase: str = field(validator=in_(("pre", "post")))
    result: str = field(validator=in_(("pass", "fail")))
    checker: str
    at: str
    items: Mapping[str, str] = field(factory=dict)
    station: str | None = None
    fill_record_id: str | None = None  # a post-fill check: the fill it follows


@frozen
class RefusalRecord:
    record_id: str
    station: str
    reasons: tuple[str, ...] = field(converter=tuple)
    at: str
    cylinder: str | None = None
    raw: str = ""
    operator: str | None = None


@frozen
class AlarmRecord:
    record_id: str
    alarm_id: str
    kind: str
    severity: str  # critical | high | medium | low
    message: str
    event: str  # raised | cleared | acknowledged | shelved
    at: str
    station: str | None = None


@frozen
class AuditRecord:
    at: str
    who: str
    role: str
    command: str
    result: str  # ok | refused | failed
    target: str = ""
    detail: str = ""


@frozen
class HoldRecord:
    """A cylinder held (`held`) or released, of one kind (`Hold`); kept locally, rebuilt at start."""

    cylinder: str
    kind: Hold = field(converter=Hold)
    held: bool
    at: str
    station: str | None = None
    fill_record_id: str | None = None


@frozen
class LearningRecord:
    """What a station learned from its fills (preact, flow, ...), kept across restarts; not sent
    to the platform."""

    station: str
    learning: StationLearning


Record = (
    FillRecord
    | FillOpened
    | CheckRecord
    | RefusalRecord
    | AlarmRecord
    | AuditRecord
    | HoldRecord
    | LearningRecord
)
