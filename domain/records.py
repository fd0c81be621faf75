"""What the floor stores: one frozen record type per kind, the writer's input.

`record_id` is the id the platform sees (docs/scenarios.md); it is a UUID made where the record is born,
so a record retried after a crash or a lost reply is still the same record (idempotent upload).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs
from attrs import field, frozen
from attrs.validators import in_

from domain.fill_guard import StationLearning
from domain.holds import Hold
from domain.stored import stored

__all__ = [
    "FILL_OUTCOMES",
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

FILL_OUTCOMES = ("completed", "aborted", "interrupted")


def _codes(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(codes)


def _sorted_codes(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(codes))  # (a set of flags: one order, so that equal fills hash equal)


@frozen(kw_only=True)
class FillRecord:
    """A fill as it ended. Its stored fields (`stored`) are the columns of table `fill`, in this
    order, the outbox payload the platform receives and the fill chain's content (`domain.chain`)."""

    record_id: str = stored(length=64)
    cylinder: str = stored("cylinder_code", length=64, may_be_empty=True)  # "" when it failed early
    station: str = stored(length=32)
    operator: str | None = stored("operator_id", length=64)
    outcome: str = stored(length=16, choices=FILL_OUTCOMES)
    reason: str | None = stored(length=64, default=None)  # the abort reason code
    tare_kg: Decimal | None = stored(default=None)
    target_kg: Decimal | None = stored(default=None)
    gross_kg: Decimal | None = stored(default=None)
    net_kg: Decimal | None = stored(default=None)
    error_g: int | None = stored(default=None)
    flags: tuple[str, ...] = stored(default=(), converter=_sorted_codes)
    started_at: str = stored(time=True)  # ISO 8601 UTC
    ended_at: str = stored(time=True)
    # The stable reading before the permit, the preact the cut-off used, the passing pre-fill check
    # (record id) the permit relied on; a top-up: the under-filled fill (record id) it completes.
    gross_before_kg: Decimal | None = stored(since="0003", default=None)
    preact_kg: Decimal | None = stored(since="0003", default=None)
    precheck_id: str | None = stored(length=64, since="0003", default=None)
    topup_of: str | None = stored(length=64, since="0007", default=None)


@frozen(kw_only=True)
class FillOpened:
    """A fill about to open its valve: made durable before the permit is energised, and closed by
    the fill's own record (same `record_id`) in that record's transaction. One still open when the
    floor starts is a fill the supervisor died during (SIGKILL, power cut): it is recorded then as
    interrupted (`supervisor.storage.interrupted`). Kept locally, not sent to the platform. Its
    stored fields are the columns of table `fill_open`, each as the fill's own."""

    record_id: str = stored(length=64)
    station: str = stored(length=32)
    cylinder: str = stored("cylinder_code", length=64, may_be_empty=True)
    operator: str | None = stored("operator_id", length=64)
    started_at: str = stored(time=True)
    tare_kg: Decimal | None = stored(default=None)
    target_kg: Decimal | None = stored(default=None)
    gross_before_kg: Decimal | None = stored(default=None)
    preact_kg: Decimal | None = stored(default=None)
    precheck_id: str | None = stored(length=64, default=None)
    topup_of: str | None = stored(length=64, default=None)

    def interrupted(self, ended_at: str, reason: str) -> FillRecord:
        """The record of this fill when nobody saw it end (the supervisor died during it): what was
        known when it opened, ended when it was found, the gross after unknown (not re-weighed)."""
        known = {name: getattr(self, name) for name in attrs.fields_dict(FillOpened)}
        return FillRecord(**known, outcome="interrupted", ended_at=ended_at, reason=reason)


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
    reasons: tuple[str, ...] = field(converter=_codes)
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
