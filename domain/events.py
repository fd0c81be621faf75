"""What the floor tells its observers: one frozen class per event type.

The bus carries these; the console, the event file, the platform sync and the history checker match
on the classes. Their JSON form (the event file of `fillfloor sim`, docs/scenarios.md "Events"; the
console protocol) is made here and only here: `encode` gives `{"type": TYPE, ...fields}` in the
fields' order, leaving out an optional field (one whose default is None) that is None, as the
event file always has; `decode` reads one back. The type strings are contracts: never rename one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from attrs import field, frozen

__all__ = [
    "EVENT_TYPES",
    "ActorHealthChanged",
    "AlarmAcknowledged",
    "AlarmCleared",
    "AlarmRaised",
    "AlarmShelved",
    "BadEvent",
    "CheckRecorded",
    "CheckRefused",
    "FillAborted",
    "FillCompleted",
    "FloorEvent",
    "InterlockRefused",
    "OperatorLogin",
    "OperatorLogout",
    "RegistryReloaded",
    "Scan",
    "StationState",
    "StationWeight",
    "SubscriberCutOff",
    "SyncBatch",
    "SyncRegistry",
    "ValveCommand",
    "decode",
    "encode",
]


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value)  # type: ignore[attr-defined]


@frozen
class FloorEvent:
    """The base of every event: `TYPE` is its type string (the `type` of its JSON form)."""

    TYPE: ClassVar[str] = ""


# --- a station's course -----------------------------------------------------------------------
@frozen
class StationState(FloorEvent):
    TYPE: ClassVar[str] = "station.state"
    station: str
    state: str  # idle, verifying, ... (docs/station.md), or an overlay: paused, fault, out_of_service
    cylinder: str | None = None


@frozen
class Scan(FloorEvent):
    TYPE: ClassVar[str] = "scan"
    station: str
    raw: str  # what was read (control characters escaped)
    code: str | None = None  # the code the label rule read from it


@frozen
class OperatorLogin(FloorEvent):
    TYPE: ClassVar[str] = "operator.login"
    station: str
    operator: str


@frozen
class OperatorLogout(FloorEvent):
    TYPE: ClassVar[str] = "operator.logout"
    station: str
    operator: str


@frozen
class InterlockRefused(FloorEvent):
    TYPE: ClassVar[str] = "interlock.refused"
    station: str
    cylinder: str | None = None
    reasons: tuple[str, ...] = field(default=(), converter=_strings)


@frozen
class CheckRecorded(FloorEvent):
    TYPE: ClassVar[str] = "check.recorded"
    station: str
    cylinder: str
    phase: str  # pre | post
    result: str  # pass | fail
    complete: bool = True  # every item checked and passed (a pass without it does not count)
    checker: str | None = None  # who did this check (F3's checker column)


@frozen
class CheckRefused(FloorEvent):
    TYPE: ClassVar[str] = "check.refused"
    station: str
    phase: str
    raw: str
    reasons: tuple[str, ...] = field(default=(), converter=_strings)
    cylinder: str | None = None


@frozen
class ValveCommand(FloorEvent):
    TYPE: ClassVar[str] = "valve.command"
    station: str
    open: bool
    cause: str  # fill | cut_off | model_cut_off | a reason code | stopped | not filling


@frozen
class FillCompleted(FloorEvent):
    TYPE: ClassVar[str] = "fill.completed"
    station: str
    cylinder: str
    record_id: str
    tare_kg: float
    target_kg: float
    gross_kg: float
    net_kg: float
    error_g: int | None
    flags: tuple[str, ...] = field(default=(), converter=_strings)


@frozen
class FillAborted(FloorEvent):
    TYPE: ClassVar[str] = "fill.aborted"
    station: str
    cylinder: str
    record_id: str
    reason: str


@frozen
class StationWeight(FloorEvent):
    """Telemetry, coalesced on the bus (latest wins per station)."""

    TYPE: ClassVar[str] = "station.weight"
    station: str
    gross_kg: Decimal
    stable: bool
    target_kg: Decimal | None = None
    tare_kg: Decimal | None = None  # the cylinder's tare while it fills: progress is net, tare → target


# --- alarms -------------------------------------------------------------------------------------
@frozen
class _AlarmChanged(FloorEvent):
    """An alarm raised or cleared: the same fields either way."""

    alarm_id: str
    kind: str
    severity: str  # critical | high | medium | low
    message: str
    station: str | None = None


@frozen
class AlarmRaised(_AlarmChanged):
    TYPE: ClassVar[str] = "alarm.raised"


@frozen
class AlarmCleared(_AlarmChanged):
    TYPE: ClassVar[str] = "alarm.cleared"


@frozen
class _AlarmHandled(FloorEvent):
    """An alarm acknowledged or shelved by a person: the same fields either way."""

    alarm_id: str
    by: str
    station: str | None = None


@frozen
class AlarmAcknowledged(_AlarmHandled):
    TYPE: ClassVar[str] = "alarm.acknowledged"


@frozen
class AlarmShelved(_AlarmHandled):
    TYPE: ClassVar[str] = "alarm.shelved"


# --- the runtime and the services -----------------------------------------------------------------
@frozen
class ActorHealthChanged(FloorEvent):
    TYPE: ClassVar[str] = "actor.health"
    actor: str
    state: str  # starting | running | restarting | failed | stopped
    restarts: int
    error: str | None = None
    attempt: int | None = None  # restarting: which attempt, and when
    next_try_in_s: float | None = None
    # A device actor's link: connecting (never up yet), up, lost; None for the other actors.
    link: str | None = None


@frozen
class SubscriberCutOff(FloorEvent):
    TYPE: ClassVar[str] = "bus.subscriber_lagged"
    subscriber: str
    capacity: int


@frozen
class SyncBatch(FloorEvent):
    TYPE: ClassVar[str] = "sync.batch"
    sent: int
    accepted: int
    rejected: int
    status: str
    duplicates: int
    detail: str
    backlog: int
    dead_letters: int
    last_success: float | None


@frozen
class SyncRegistry(FloorEvent):
    TYPE: ClassVar[str] = "sync.registry"
    cursor: int
    changes: int
    latest: int
    current: bool


@frozen
class RegistryReloaded(FloorEvent):
    """Archives or operators changed in the database beside the running floor (an import) and
    now decide its scans: how many of each were new or changed."""

    TYPE: ClassVar[str] = "registry.reloaded"
    archives: int
    operators: int


EVENT_TYPES: Mapping[str, type[FloorEvent]] = {
    cls.TYPE: cls
    for cls in (
        StationState, Scan, OperatorLogin, OperatorLogout, InterlockRefused, CheckRecorded, CheckRefused,
        ValveCommand, FillCompleted, FillAborted, StationWeight, AlarmRaised, AlarmCleared,
        AlarmAcknowledged, AlarmShelved, ActorHealthChanged, SubscriberCutOff, SyncBatch, SyncRegistry,
        RegistryReloaded,
    )
}  # fmt: skip


def encode(event: FloorEvent) -> dict[str, Any]:
    """The event's JSON form: its type, then its fields in order; an optional field that is None is
    left out. Values stay as they are (Decimal masses, tuples): the JSON writer turns them into
    numbers and lists."""
    out: dict[str, Any] = {"type": event.TYPE}
    for a in attrs.fields(type(event)):
        value = getattr(event, a.name)
        if value is None and a.default is None:
            continue
        out[a.name] = value
    return out


class BadEvent(ValueError):
    """An event's JSON form that does not hold together (a field missing or of the wrong kind)."""


def _text(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError("text")
    return v


def _flag(v: object) -> bool:
    if not isinstance(v, bool):
        raise TypeError("true or false")
    return v


def _whole(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("a whole number")
    return v


def _real(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise TypeError("a number")
    return float(v)


def _mass(v: object) -> Decimal:
    return Decimal(str(_real(v))) if not isinstance(v, Decimal) else v


def _texts(v: object) -> tuple[str, ...]:
    if not isinstance(v, list | tuple):
        raise TypeError("a list of text")
    return tuple(_text(x) for x in v)


# A field's annotation (as written: this module's annotations stay strings) → how to read it.
_READERS: Mapping[str, Callable[[object], object]] = {
    "str": _text, "bool": _flag, "int": _whole, "float": _real, "Decimal": _mass,
    "tuple[str, ...]": _texts,
}  # fmt: skip


def _read(annotation: str, value: object) -> object:
    if annotation.endswith(" | None"):
        return None if value is None else _read(annotation.removesuffix(" | None"), value)
    return _READERS[annotation](value)


def decode(obj: Mapping[str, Any]) -> FloorEvent | None:
    """An event from its JSON form (None for a type this module does not know: the simulator's own
    ground truth and progress lines share the event file; a newer peer may send types this build
    does not know). Unknown fields are left aside; a field missing or of the wrong kind raises
    `BadEvent` naming it: what came over a wire is read, never trusted."""
    cls = EVENT_TYPES.get(str(obj.get("type")))
    if cls is None:
        return None
    values: dict[str, object] = {}
    for a in attrs.fields(cls):
        if a.name not in obj:
            if a.default is attrs.NOTHING:
                raise BadEvent(f"{cls.TYPE}: {a.name} missing")
            continue
        try:
            values[a.name] = _read(str(a.type), obj[a.name])
        except (TypeError, KeyError) as exc:
            raise BadEvent(f"{cls.TYPE}: {a.name} is not {exc.args[0] if exc.args else 'valid'}") from None
    return cls(**values)
