"""The station coordinator's decisions: a state machine with no I/O and no clock of its own.

`StationCore.handle(message)` takes one input (a weight sample, a valve status, a scan, a check,
a console order, a tick, ...) and returns the effects to carry out, in order: orders to the valve
and the indicator (desired states), events for observers and records for the writer. The trio
actor around it (`coordinator.py`) only moves messages, so every decision is tested here, under
exact control of time, and a slow observer or database can never delay one.

The course of a station (docs/station.md): idle → (label scanned) verifying → awaiting_precheck →
ready → filling → settling → awaiting_postcheck → done → (removed) idle; a refusal goes to
rejected until the cylinder is removed. paused, fault and out_of_service are shown over that
course (they hold it, and a fill in progress is aborted), and when they clear the course goes on:
a cylinder that was waiting to fill is verified again.

Fail closed: an exception while deciding closes the valve, aborts the fill with `internal.error`
and puts the station in fault until a resume.

The core is split by idea, behind this one `handle()`: the course (`course.py`: scan, checks, the
interlock), the fill's lifecycle (`fill_lifecycle.py`: open marker, permit, cut-off, fill guard,
re-weigh, record) and faults and alarms (`faults.py`); their state is in small typed parts
(`station_state.py`). The permit rule is stated once, in `domain/permit_rule.py`.
"""

from __future__ import annotations

from domain.alarm_kinds import AlarmKind
from domain.fill_run import CUT_OFF, FillRun
from domain.labels import LabelResult
from domain.messages import (
    CheckSubmitted,
    ConsoleOrder,
    DeviceLink,
    FillMarked,
    PermitOrder,
    Scanned,
    StationInput,
    StorageHealth,
    Tick,
    ValveStatus,
    WeightSample,
)
from domain.reasons import Reason
from domain.records import FillRecord
from supervisor.station.course import Course
from supervisor.station.faults import Faults
from supervisor.station.fill_lifecycle import DURING_FILL, FillLifecycle
from supervisor.station.station_state import Effect, Phase, StationContext, Store

__all__ = ["Effect", "Phase", "StationContext", "StationCore", "Store"]

_JUDGE_TIME_EVERY_S = 0.1


class StationCore(Course, FillLifecycle, Faults):
    """One station's decisions: `handle(message)` returns the effects to carry out, in order."""

    def handle(self, msg: StationInput) -> list[Effect]:
        self.now = max(self.now, msg.at)
        if self.born is None:
            self.born = self.now
        try:
            self._dispatch(msg)
            if self.now - self._time_judged_at >= _JUDGE_TIME_EVERY_S or isinstance(msg, Tick):
                self._time_judged_at = self.now
                self._on_time()
            self._advance()
        except Exception as exc:  # fail closed: whatever went wrong, the valve closes
            self._fail_closed(exc)
        self._announce()
        out, self._out = self._out, []
        return out

    def stop(self) -> list[Effect]:
        """The coordinator is stopping (floor shutdown, a restart, its station given up): the valve
        is ordered closed, and a fill under way or settling is recorded now, without a re-weigh
        (nobody may be left to re-weigh it). Its state is kept: a restarted coordinator goes on."""
        blockers = self.ctx.gate_blockers()
        shutdown = Reason.SUPERVISOR_SHUTDOWN in blockers
        if self.lifecycle.fill is not None:
            if self.lifecycle.abort is None and self.course.phase == Phase.FILLING:
                reason = Reason.SUPERVISOR_SHUTDOWN if shutdown else Reason.INTERNAL_ERROR
                self.lifecycle.abort = (
                    DURING_FILL.get(blockers[0], blockers[0]) if blockers and not shutdown else reason
                )
            interrupted = self.lifecycle.abort in (None, Reason.SUPERVISOR_SHUTDOWN)
            self.lifecycle.abort = self.lifecycle.abort or Reason.SUPERVISOR_SHUTDOWN
            self._record_fill(None, outcome="interrupted" if interrupted else "aborted")
            self._enter(Phase.AWAITING_POSTCHECK if self._present() else Phase.IDLE)
        self._order_closed("stopped")
        out, self._out = self._out, []
        return out

    def _dispatch(self, msg: StationInput) -> None:
        match msg:
            case WeightSample():
                self._on_sample(msg)
            case ValveStatus():
                self._on_valve(msg)
            case Scanned():
                self._on_scan(msg)
            case CheckSubmitted():
                self._on_check(msg)
            case ConsoleOrder():
                self._on_console(msg)
            case DeviceLink():
                self._on_link(msg)
            case StorageHealth():
                self._on_storage(msg)
            case FillMarked():
                self._on_marked(msg)
            case Tick():
                pass  # time is judged below, for every message

    def _on_sample(self, s: WeightSample) -> None:
        self.sample = s
        self._clear_fault("scale_lost")  # (a sample: the scale is there, however it was lost)
        if self.course.phase == Phase.VERIFYING:
            self._follow_steadiness(s)
        if self._awaiting_marker:
            if s.gross_kg < self.ctx.fill.empty_below_kg:  # (the valve is still closed)
                self._close(Reason.FILL_CYLINDER_REMOVED)
        elif self.course.phase == Phase.FILLING and self.lifecycle.fill is not None:
            verdict = self.lifecycle.fill.on_sample(s)
            if verdict == CUT_OFF:
                self._close(None)
            elif isinstance(verdict, Reason):
                self._close(verdict)
        elif self.course.phase == Phase.SETTLING:
            self._settle()
        elif not self._present() and self.course.phase not in (Phase.IDLE, Phase.VERIFYING):
            self._removed()

    def _on_time(self) -> None:
        """Timeouts: silent devices, max fill time, the re-weigh's wait. Judged on every message at
        most every `_JUDGE_TIME_EVERY_S`, and on a `Tick` (sent when no device speaks)."""
        now, timeout = self.now, self.ctx.fill.sample_timeout_s
        self._judge_burst()
        since = self.born if self.born is not None else now
        for device, last in (("scale", self.sample), ("valve", self.valve)):
            if (last.at if last is not None else since) + timeout > now:
                continue
            lost = Reason.DEVICE_SCALE_LOST if device == "scale" else Reason.DEVICE_VALVE_LOST
            self._close(lost)  # a silent device cannot be trusted with a fill
            kind = AlarmKind.DEVICE_SCALE_LOST if device == "scale" else AlarmKind.DEVICE_VALVE_LOST
            # One cause, one alarm (ISA-18.2): a silent device and a lost link are the same alarm,
            # whichever is seen first words it (a link that drops also falls silent).
            self._raise_fault(f"{device}_lost", kind, text="silent")
        if self.course.phase == Phase.FILLING and self.lifecycle.fill is not None:
            verdict = self.lifecycle.fill.on_time(now)
            if isinstance(verdict, Reason):
                self._close(verdict)
            elif verdict == CUT_OFF:
                self._close(None, cause="model_cut_off")  # no reading came: the model's cut-off
        elif self.course.phase == Phase.SETTLING and now >= self.course.deadline:
            self._finish_fill(settled=False)

    def _fail_closed(self, exc: Exception) -> None:
        self._out = [e for e in self._out if not (isinstance(e, PermitOrder) and e.open)]
        self._order_closed(str(Reason.INTERNAL_ERROR))  # also when nothing seemed open: be sure
        if (fill := self.lifecycle.fill) is not None:
            # Recorded now, without a re-weigh: what broke may be what a re-weigh would need.
            self.lifecycle.abort = self.lifecycle.abort or Reason.INTERNAL_ERROR
            try:
                self._record_fill(None, outcome="aborted")
            except Exception:  # the bare facts, then: a fill is never left unrecorded
                life = self.lifecycle
                self._store(FillRecord(
                    record_id=fill.record_id, cylinder=self._code() or "", station=self.ctx.station,
                    operator=life.fill_operator, outcome="aborted", started_at=life.fill_started_wall,
                    ended_at=self.ctx.wall_now(), reason=str(Reason.INTERNAL_ERROR),
                ))  # fmt: skip
            self.lifecycle.fill = None
            self.course.phase, self.course.deadline = Phase.AWAITING_POSTCHECK, float("inf")
        self.fault_state.faults.pop("internal", None)
        self._raise_fault("internal", AlarmKind.INTERNAL_ERROR, error=f"{type(exc).__name__}: {exc}")

    # What the coordinator, the console's snapshot and the tests read of the station.
    @property
    def phase(self) -> Phase:
        return self.course.phase

    @property
    def badge(self) -> str | None:
        return self.course.badge

    @property
    def label(self) -> LabelResult | None:
        return self.course.label

    @property
    def fill(self) -> FillRun | None:
        return self.lifecycle.fill

    @property
    def permit(self) -> bool:
        """What the valve was last ordered."""
        return self.lifecycle.permit

    @property
    def faults(self) -> dict[str, str]:
        return self.fault_state.faults

    @property
    def storage_ok(self) -> bool:
        return self.fault_state.storage_ok
