"""The base of a station core's parts: the state they share and the effects they produce."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from domain.alarm_notices import AlarmNotice
from domain.events import FloorEvent, StationState
from domain.fill_guard import StationLearning
from domain.holds import Hold
from domain.messages import ValveStatus, WeightSample
from domain.reasons import Reason
from domain.records import Record, RefusalRecord
from domain.unreadable_burst import UnreadableBurst
from supervisor.station.station_state import (
    CourseState,
    Effect,
    FaultState,
    FillLifecycleState,
    Phase,
    StationContext,
    Store,
)


class StationBase:
    """A station core's state and outputs, shared by its parts (the course, the fill lifecycle,
    faults and alarms); each part is a class over this base, and `StationCore` joins them."""

    def __init__(self, ctx: StationContext, learning: StationLearning | None = None) -> None:
        self.ctx = ctx
        self.learning = learning or StationLearning()  # preact, flow, ...: learned from its fills
        self.course = CourseState()
        self.lifecycle = FillLifecycleState(registry_seen=ctx.floor.registry_version)
        self.fault_state = FaultState()
        self.unreadable = UnreadableBurst()  # a scanner sending junk: one burst, not a record a frame
        self.sample: WeightSample | None = None
        self.valve: ValveStatus | None = None
        self.now = 0.0
        self.born: float | None = None  # the first message's time: devices get a moment to report
        self._time_judged_at = float("-inf")
        self._out: list[Effect] = []

    @property
    def preact_kg(self) -> Decimal:
        """The in-flight mass the next cut-off allows for."""
        learned = self.learning.preact_kg
        return self.ctx.fill.preact.initial_kg if learned is None else learned

    @property
    def state(self) -> str:
        if (
            self.ctx.floor.disabled(self.ctx.station)
            or Reason.STATION_OUT_OF_SERVICE in self.ctx.gate_blockers()
        ):
            return "out_of_service"
        if self.fault_state.faults:
            return "fault"
        if self.course.paused_by is not None:
            return "paused"
        return self.course.phase.value

    def _code(self) -> str | None:
        return self.course.label.code if self.course.label is not None else None

    def _present(self) -> bool:
        return self.sample is not None and self.sample.gross_kg >= self.ctx.fill.empty_below_kg

    def _release(self) -> None:
        if self.course.claimed is not None:
            self.ctx.floor.release(self.course.claimed, self.ctx.station)
            self.course.claimed = None

    def _enter(self, phase: Phase, deadline: float = float("inf")) -> None:
        self.course.phase, self.course.deadline, self.course.entered_at = phase, deadline, self.now
        self.course.steady_since = None
        self._announce()  # every step of the course is shown, also one passed in the same instant

    def _announce(self) -> None:
        state = self.state
        if state != self.course.shown:
            self.course.shown = state
            code = self._code()
            self._emit(StationState(self.ctx.station, state, code))

    def _emit(self, event: FloorEvent) -> None:
        self._out.append(event)

    def _store(self, record: Record) -> None:
        self._out.append(Store(record))

    def _store_refusal(self, reasons: tuple[Reason, ...], *, raw: str, cylinder: str | None = None) -> None:
        self._store(RefusalRecord(
            record_id=self.ctx.new_id("refusal"), station=self.ctx.station, reasons=[str(r) for r in reasons],
            at=self.ctx.wall_now(), cylinder=cylinder, raw=raw, operator=self.course.badge,
        ))  # fmt: skip

    if TYPE_CHECKING:  # what one part asks of another (each is defined in its own module)

        def _check_left_unchecked(self) -> None: ...
        def _clear_fault(self, cause: str) -> None: ...
        def _close(self, abort: Reason | None, *, cause: str = "cut_off") -> None: ...
        def _hold(self, kind: Hold, code: str, on: bool, fill_record_id: str | None) -> None: ...
        def _order_closed(self, cause: str) -> None: ...
        def _recheck_during_fill(self) -> None: ...
        def _resolve_overfill(self) -> None: ...
        def _try_start(self, *, manual: bool) -> None: ...
        def _alarm(self, notice: AlarmNotice) -> None: ...
        def _operator_reasons(self) -> tuple[Reason, ...]: ...
        def _reasons(self) -> tuple[Reason, ...]: ...
        def _refuse(self, reasons: tuple[Reason, ...]) -> None: ...
        def _removed(self) -> None: ...
        def _station_reasons(self, *, during_fill: bool = False) -> tuple[Reason, ...]: ...
