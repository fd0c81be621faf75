"""Messages between a station's device actors, its coordinator, check terminals and the console.

One message type, one meaning (docs/architecture.md). Inputs go into the coordinator's mailbox;
orders go out to the device actors as *desired states* (`Latest`): a valve actor always applies the
newest permit order, so a close can never queue behind an older open.

Times: `at` is trio's monotonic clock (`trio.current_time()`) when the reading was taken, so the
coordinator's timing logic runs under virtual time in tests. Masses are Decimal kg.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import IntEnum, StrEnum

from attrs import field, frozen

__all__ = [
    "CheckPhase",
    "CheckSubmitted",
    "ConsoleOrder",
    "Device",
    "DeviceLink",
    "IndicatorFillState",
    "IndicatorOrder",
    "OrderKind",
    "PermitOrder",
    "Scanned",
    "StationInput",
    "StorageHealth",
    "Tick",
    "ValveStatus",
    "WeightSample",
]


class IndicatorFillState(IntEnum):
    """The weighing indicator's fill mode (docs/devices.md, scale register `fill_state`)."""

    IDLE = 0
    FILLING = 1
    CUT_OFF = 2
    ABORTED = 3


# --- from the device actors ---------------------------------------------------------------------


@frozen
class WeightSample:
    """One poll of the weighing indicator."""

    gross_kg: Decimal
    stable: bool  # the indicator's own motion detection
    at: float  # when the poll was sent: the reading was taken at or after it
    overload: bool = False
    error: bool = False  # the indicator reports an A/D fault
    fill_state: IndicatorFillState = IndicatorFillState.IDLE
    received_at: float | None = None  # when the reply came: the reading was taken at or before it


@frozen
class ValveStatus:
    """One poll of the permit valve: the permit as the device holds it and its position switch."""

    permit: bool
    feedback_open: bool
    at: float


class Device(StrEnum):
    """A station's devices (each run by its own actor)."""

    SCALE = "scale"
    VALVE = "valve"
    SCANNER = "scanner"


@frozen
class DeviceLink:
    """Contact with a device lost (after the configured failures in a row) or regained."""

    device: Device = field(converter=Device)  # (an unknown device fails where it is told, not later)
    up: bool
    at: float
    detail: str = ""  # the last error, for the alarm text (device text: shown as plain text)


@frozen
class Scanned:
    """A frame read by the station's scanner, told apart as a badge or a label by the badge rule.

    `text` is the frame decoded leniently (undecodable bytes replaced), `too_long` when the frame
    was cut at the scanner's limit: such a frame is refused (`label.unreadable`), never parsed.
    """

    text: str
    badge: bool
    at: float
    too_long: bool = False


# --- from check terminals and the console -------------------------------------------------------


class OrderKind(StrEnum):
    """What a console (or a scenario) may order one station to do."""

    PAUSE = "pause"  # a supervisor holds the station (a fill under way is stopped)
    RESUME = "resume"
    STOP = "stop"  # stop the fill under way (an operator's stop)
    START = "start"  # start the fill of a ready cylinder (a station without automatic start)


class CheckPhase(StrEnum):
    PRE = "pre"
    POST = "post"


@frozen
class CheckSubmitted:
    """A pre-fill or post-fill check from a check terminal (采集设备)."""

    cylinder: str
    phase: CheckPhase
    passed: bool
    checker: str
    items: Mapping[str, str] = field(factory=dict)
    at: float = 0.0  # monotonic, for the pre-fill window
    when: dt.datetime | None = None  # wall time for the record (ISO 8601, GB/T 7408)


@frozen
class ConsoleOrder:
    """A console command for one station, already authorised by the console server."""

    kind: OrderKind = field(converter=OrderKind)  # (an unknown kind fails where it is made)
    by: str
    at: float = 0.0


@frozen
class StorageHealth:
    """Whether the station's records are reaching the database: no fill without a record."""

    ok: bool
    at: float
    detail: str = ""


@frozen
class FillMarked:
    """The fill's open marker is durable (its coordinator heard from storage): its valve may open.
    Until then the fill waits with the valve closed, so a supervisor killed during a fill always
    leaves a marker the next start records as an interrupted fill."""

    record_id: str
    at: float


@frozen
class Tick:
    """Time passes: timeouts (pre-check wait, settling, no flow, max fill time) are checked on it."""

    at: float


StationInput = (
    WeightSample
    | ValveStatus
    | DeviceLink
    | Scanned
    | CheckSubmitted
    | ConsoleOrder
    | StorageHealth
    | FillMarked
    | Tick
)


# --- orders to the device actors (desired states) ----------------------------------------------


@frozen
class PermitOrder:
    """The permit the valve should hold. The valve actor applies it only while the station's
    permit gate allows (no permit while the scale or valve actor is down)."""

    open: bool
    cause: str
    fill: str | None = None  # the record id of the fill it serves


@frozen
class IndicatorOrder:
    """`indicator` cut-off: the fill the indicator should run (target and preact in kg), or none.

    The scale actor writes target and preact, reads them back, then sets the fill command; `run`
    False clears the fill command (an abort while filling)."""

    run: bool
    target_kg: Decimal = Decimal(0)
    preact_kg: Decimal = Decimal(0)
    fill: str | None = None
