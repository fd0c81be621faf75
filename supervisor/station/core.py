"""The station coordinator's decisions: a state machine with no I/O and no clock of its own.

`StationCore.handle(message)` takes one input (a weight sample, a valve status, a scan, a check,
a console order, a tick, ...) and returns the effects to carry out, in order: orders to the valve
and the indicator (desired states), events for observers and records for the writer. The trio
actor around it (`coordinator.py`) only moves messages, so every decision is tested here, under
exact control of time, and a slow observer or database can never delay one.

The course of a station (SCENARIOS.md): idle → (label scanned) verifying → awaiting_precheck →
ready → filling → settling → awaiting_postcheck → done → (removed) idle; a refusal goes to
rejected until the cylinder is removed. paused, fault and out_of_service are shown over that
course (they hold it, and a fill in progress is aborted), and when they clear the course goes on:
a cylinder that was waiting to fill is verified again.

Fail closed: an exception while deciding closes the valve, aborts the fill with `internal.error`
and puts the station in fault until a resume.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple, assert_never

import attrs
from attrs import frozen

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import AlarmNotice, cleared, raised
from domain.archive import CylinderArchive
from domain.checks import CheckEntry, counts_as_pass
from domain.eligibility import eligibility_reasons
from domain.events import (
    CheckRecorded,
    CheckRefused,
    FillAborted,
    FillCompleted,
    FloorEvent,
    InterlockRefused,
    OperatorLogin,
    OperatorLogout,
    Scan,
    StationState,
    ValveCommand,
)
from domain.fill_guard import StationLearning
from domain.fill_run import CUT_OFF, FillRun
from domain.fill_settings import FillSettings
from domain.filling import adapt_preact, fill_flags, fill_target
from domain.holds import Hold
from domain.interlock import Facts, refusal_reasons, same_as_underfill
from domain.labels import LabelResult, LabelRule, parse_label, safe_text
from domain.messages import (
    CheckPhase,
    CheckSubmitted,
    ConsoleOrder,
    Device,
    DeviceLink,
    FillMarked,
    IndicatorOrder,
    OrderKind,
    PermitOrder,
    Scanned,
    StationInput,
    StorageHealth,
    Tick,
    ValveStatus,
    WeightSample,
)
from domain.operators import operator_reasons
from domain.permit_rule import may_permit
from domain.reasons import FillFlag, Reason
from domain.records import (
    CheckRecord,
    FillOpened,
    FillRecord,
    HoldRecord,
    LearningRecord,
    Record,
    RefusalRecord,
)
from domain.settings import DomainSettings
from supervisor.station.floor import FloorState, LastFill

__all__ = ["Effect", "Phase", "StationContext", "StationCore", "Store"]


class Phase(StrEnum):
    """A station's course (SCENARIOS.md); the overlays paused/fault/out_of_service are shown above it."""

    IDLE = "idle"
    VERIFYING = "verifying"
    AWAITING_PRECHECK = "awaiting_precheck"
    READY = "ready"
    FILLING = "filling"
    SETTLING = "settling"
    AWAITING_POSTCHECK = "awaiting_postcheck"
    DONE = "done"
    REJECTED = "rejected"


_WAITING_TO_FILL = (Phase.VERIFYING, Phase.AWAITING_PRECHECK, Phase.READY)
# A label scanned after a fill means the next cylinder is on the scale (a swap can be quicker than
# a poll shows an empty scale); during a fill or its re-weigh a scan changes nothing.
_SCAN_ACCEPTED = (Phase.IDLE, Phase.REJECTED, *_WAITING_TO_FILL, Phase.AWAITING_POSTCHECK, Phase.DONE)
# A device actor down while filling is a lost device for the fill record.
_DURING_FILL = {
    Reason.DEVICE_SCALE_UNAVAILABLE: Reason.DEVICE_SCALE_LOST,
    Reason.DEVICE_VALVE_UNAVAILABLE: Reason.DEVICE_VALVE_LOST,
    Reason.STATION_PAUSED: Reason.OPERATOR_STOP,
}
_G = Decimal(1000)


# Each hold's alarm: its kind and its id (one a cylinder).
class _HoldAlarm(NamedTuple):
    kind: AlarmKind
    id: str  # (a format: one alarm a cylinder)


_HOLD_ALARMS = {
    Hold.OVERFILL: _HoldAlarm(AlarmKind.FILL_OVERFILL, "overfill.{code}"),
    Hold.POST_CHECK_FAILED: _HoldAlarm(AlarmKind.CHECK_POST_FAILED, "post_check.{code}"),
    Hold.POST_CHECK_MISSING: _HoldAlarm(AlarmKind.CHECK_POST_MISSING, "post_check_missing.{code}"),
}
_JUDGE_TIME_EVERY_S = 0.1


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


class StationCore:
    def __init__(self, ctx: StationContext, learning: StationLearning | None = None) -> None:
        self.ctx = ctx
        self.learning = learning or StationLearning()  # preact, flow, ...: learned from its fills
        self.phase = Phase.IDLE
        self.shown: str | None = None  # the state last announced
        self.badge: str | None = None
        self.label: LabelResult | None = None
        self.archive: CylinderArchive | None = None
        self.claimed: str | None = None
        self.precheck: CheckEntry | None = None
        self.sample: WeightSample | None = None
        self.valve: ValveStatus | None = None
        self.fill: FillRun | None = None
        self.fill_operator: str | None = None
        self.fill_started_wall = ""
        self.abort: Reason | None = None
        self.closed_at = 0.0
        self.permit = False  # what the valve was last ordered
        self.paused_by: str | None = None
        self.faults: dict[str, str] = {}  # cause -> alarm id
        # cause -> the alarm as raised: its clear says what cleared (the platform refuses an alarm
        # record without its kind).
        self._fault_alarms: dict[str, AlarmNotice] = {}
        self.storage_ok = True
        self.scanner_lost = False
        self.deadline = float("inf")  # of the phase's wait (stable reading, pre-check, re-weigh)
        self.now = 0.0
        self.born: float | None = None  # the first message's time: devices get a moment to report
        self._entered_at = 0.0
        # While verifying: since when the readings polled after the scan have stayed within the band.
        self._steady_since: float | None = None
        self._steady_lo = self._steady_hi = Decimal(0)
        self._time_judged_at = float("-inf")
        self._mismatch_since: float | None = None  # valve feedback disagreeing with the order
        self._registry_seen = ctx.floor.registry_version
        self._standing: dict[str, AlarmNotice] = {}  # alarms that clear on a later event
        self._post_check_due: tuple[str, str, float] | None = None  # (code, fill, started) left unchecked
        self._out: list[Effect] = []

    # ------------------------------------------------------------------ entry point
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
        if self.fill is not None:
            if self.abort is None and self.phase == Phase.FILLING:
                reason = Reason.SUPERVISOR_SHUTDOWN if shutdown else Reason.INTERNAL_ERROR
                self.abort = (
                    _DURING_FILL.get(blockers[0], blockers[0]) if blockers and not shutdown else reason
                )
            interrupted = self.abort in (None, Reason.SUPERVISOR_SHUTDOWN)
            self.abort = self.abort or Reason.SUPERVISOR_SHUTDOWN
            self._record_fill(None, outcome="interrupted" if interrupted else "aborted")
            self._enter(Phase.AWAITING_POSTCHECK if self._present() else Phase.IDLE)
        self._order_closed("stopped")
        out, self._out = self._out, []
        return out

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
        if self.faults:
            return "fault"
        if self.paused_by is not None:
            return "paused"
        return self.phase.value

    # ------------------------------------------------------------------ dispatch
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
        self._clear_fault("scale_silent")
        if self.phase == Phase.VERIFYING:
            self._follow_steadiness(s)
        if self._awaiting_marker:
            if s.gross_kg < self.ctx.fill.empty_below_kg:  # (the valve is still closed)
                self._close(Reason.FILL_CYLINDER_REMOVED)
        elif self.phase == Phase.FILLING and self.fill is not None:
            verdict = self.fill.on_sample(s)
            if verdict == CUT_OFF:
                self._close(None)
            elif verdict is not None:
                self._close(verdict)
        elif self.phase == Phase.SETTLING:
            self._settle()
        elif not self._present() and self.phase not in (Phase.IDLE, Phase.VERIFYING):
            self._removed()

    def _on_valve(self, v: ValveStatus) -> None:
        self.valve = v
        self._clear_fault("valve_silent")
        if self.phase == Phase.FILLING and self.fill is not None:
            self.fill.on_valve(v)  # the position switch tells the fill guard when gas may flow
        # The position switch must follow the order within the feedback timeout. In indicator mode
        # the valve opens only while the indicator's output is on as well, so "open ordered, still
        # closed" is judged only once the indicator reports it is filling (until then a slow start
        # is the no-flow check's to catch), and the cut-off itself is seen on the scale first.
        armed = self.phase == Phase.FILLING and (self.ctx.cutoff == "host" or self.fill is None
                                                 or self.fill.indicator_started)  # fmt: skip
        disagrees = v.feedback_open != self.permit and (self.permit is False or armed)
        if not disagrees:
            self._mismatch_since = None
            if not v.feedback_open:
                self._clear_fault("stuck_open")
            return
        if self._mismatch_since is None:
            self._mismatch_since = v.at
        if v.at - self._mismatch_since < self.ctx.fill.feedback_timeout_s:
            return
        if self.permit:
            self._close(Reason.VALVE_FEEDBACK_MISMATCH)
        elif "stuck_open" not in self.faults:
            self._raise_fault("stuck_open", AlarmKind.VALVE_STUCK_OPEN)

    def _on_scan(self, msg: Scanned) -> None:
        if msg.badge:
            self._emit(Scan(self.ctx.station, safe_text(msg.text)))
            self._on_badge(msg.text)
            return
        label = (
            LabelResult(safe_text(msg.text), None, Reason.LABEL_UNREADABLE)
            if msg.too_long
            else parse_label(msg.text, self.ctx.label_rule)
        )
        self._emit(Scan(self.ctx.station, label.raw, label.code))
        if self.phase not in _SCAN_ACCEPTED:
            return  # a fill is under way or done: the cylinder on the scale is not changed by a scan
        if self._post_check_due is not None and self._post_check_due[0] != label.code:
            self._check_left_unchecked()  # another cylinder in its place: the filled one has left
        self._release()
        self.label, self.precheck = label, None
        accepted = label.reason is None and label.code is not None
        self.archive = self.ctx.floor.archives.get(label.code) if accepted and label.code else None
        if not accepted or label.code is None:
            self._refuse(self._reasons())  # nothing to verify: refuse at once, with every reason
            return
        holder = self.ctx.floor.claim(label.code, self.ctx.station)
        if holder is None:
            self.claimed = label.code
        self._enter(Phase.VERIFYING, self.now + self.ctx.fill.stable_timeout_s)
        self._verify()

    def _on_badge(self, badge: str) -> None:
        if badge == self.badge:
            self.badge = None
            self._emit(OperatorLogout(self.ctx.station, badge))
        else:
            self.badge = badge
            self._emit(OperatorLogin(self.ctx.station, badge))
            reasons = operator_reasons(self.ctx.floor.operators.get(badge), self.ctx.floor.today())
            if reasons:
                self._store_refusal(reasons, raw=safe_text(badge))
                self._emit(InterlockRefused(self.ctx.station, None, reasons))

    def _on_check(self, msg: CheckSubmitted) -> None:
        """A check terminal's check: recorded under the code its text names (a label URL read with
        the scanner's rule), for a cylinder in the registry; a pass counts only with every item
        checked and passed (domain/checks.py)."""
        floor = self.ctx.floor
        label = parse_label(msg.cylinder, self.ctx.label_rule)
        code = label.code if label.reason is None else None
        if code is None or code not in floor.archives:
            reason = label.reason or Reason.CYLINDER_UNKNOWN
            self._store_refusal((reason,), raw=label.raw, cylinder=code)
            self._emit(CheckRefused(self.ctx.station, msg.phase.value, label.raw, (reason,), code))
            return
        record_id = self.ctx.new_id("check")
        last = floor.last_fill.get(code)
        bound = last.record_id if msg.phase == CheckPhase.POST and last is not None else None
        complete = counts_as_pass(msg.phase.value, msg.passed, msg.items)
        entry = CheckEntry(record_id, code, msg.phase, msg.passed, msg.checker, msg.at, complete=complete)
        floor.add_check(entry)
        result = "pass" if msg.passed else "fail"
        self._store(CheckRecord(
            record_id=record_id, cylinder=code, phase=msg.phase.value, result=result,
            checker=msg.checker, at=msg.when.isoformat() if msg.when else self.ctx.wall_now(),
            items=dict(msg.items), station=self.ctx.station, fill_record_id=bound,
        ))  # fmt: skip
        self._emit(CheckRecorded(self.ctx.station, code, msg.phase.value, result, msg.passed and complete))
        if msg.phase == CheckPhase.POST:
            self._after_post_check(code, entry, bound)

    def _after_post_check(self, code: str, check: CheckEntry, fill_record_id: str | None) -> None:
        """A failed post-fill check holds the cylinder until it is handled and checked again; a
        pass (every item checked) ends that hold and a missing check's."""
        if check.passed and not check.complete:
            return  # not a post-fill check yet: the station waits for one with every item
        # (failed: a leak, a bulge, a hot wall)
        self._hold(Hold.POST_CHECK_FAILED, code, not check.passed, fill_record_id)
        self._hold(Hold.POST_CHECK_MISSING, code, False, fill_record_id)
        if self.phase == Phase.AWAITING_POSTCHECK and self._code() == code:
            self._enter(Phase.DONE)

    def _on_console(self, msg: ConsoleOrder) -> None:
        match msg.kind:
            case OrderKind.PAUSE:
                self.paused_by = msg.by
                if self.phase == Phase.FILLING:
                    self._close(Reason.OPERATOR_STOP)
            case OrderKind.RESUME:
                self.paused_by = None
                self._clear_fault("internal")
                if self.phase in _WAITING_TO_FILL:
                    self._enter(Phase.VERIFYING, self.now + self.ctx.fill.stable_timeout_s)
            case OrderKind.STOP:
                if self.phase == Phase.FILLING:
                    self._close(Reason.OPERATOR_STOP)
            case OrderKind.START:  # (while paused or faulted the course holds: nothing starts)
                if self.phase == Phase.READY and self.state == Phase.READY.value:
                    self._try_start(manual=True)
            case _:
                assert_never(msg.kind)

    def _on_link(self, msg: DeviceLink) -> None:
        cause = f"{msg.device}_lost"
        if msg.device == Device.SCANNER:  # no new scans, but a fill under way goes on
            if msg.up != self.scanner_lost:
                return
            self.scanner_lost = not msg.up
            alarm_id, kind = f"{self.ctx.station}.scanner_lost", AlarmKind.DEVICE_SCANNER_LOST
            if msg.up:
                self._alarm(cleared(alarm_id, kind, self.ctx.station))
            else:
                self._alarm(raised(alarm_id, kind, self.ctx.station, detail=safe_text(msg.detail)))
            return
        if msg.up:
            self._clear_fault(cause)
            return
        if self.phase == Phase.FILLING:
            self._close(Reason.DEVICE_SCALE_LOST if msg.device == Device.SCALE else Reason.DEVICE_VALVE_LOST)
        kind = AlarmKind.DEVICE_SCALE_LOST if msg.device == Device.SCALE else AlarmKind.DEVICE_VALVE_LOST
        self._raise_fault(cause, kind, detail=safe_text(msg.detail))

    def _on_storage(self, msg: StorageHealth) -> None:
        was, self.storage_ok = self.storage_ok, msg.ok
        alarm_id, kind = f"{self.ctx.station}.storage", AlarmKind.STORAGE_UNAVAILABLE
        if was and not msg.ok:
            self._alarm(raised(alarm_id, kind, self.ctx.station, detail=safe_text(msg.detail)))
        elif msg.ok and not was:
            self._alarm(cleared(alarm_id, kind, self.ctx.station))

    def _on_time(self) -> None:
        """Timeouts: silent devices, max fill time, the re-weigh's wait. Judged on every message at
        most every `_JUDGE_TIME_EVERY_S`, and on a `Tick` (sent when no device speaks)."""
        now, timeout = self.now, self.ctx.fill.sample_timeout_s
        since = self.born if self.born is not None else now
        for device, last in (("scale", self.sample), ("valve", self.valve)):
            if (last.at if last is not None else since) + timeout > now:
                continue
            lost = Reason.DEVICE_SCALE_LOST if device == "scale" else Reason.DEVICE_VALVE_LOST
            self._close(lost)  # a silent device cannot be trusted with a fill
            kind = AlarmKind.DEVICE_SCALE_LOST if device == "scale" else AlarmKind.DEVICE_VALVE_LOST
            self._raise_fault(f"{device}_silent", kind, text="silent")
        if self.phase == Phase.FILLING and self.fill is not None:
            verdict = self.fill.on_time(now)
            if isinstance(verdict, Reason):
                self._close(verdict)
            elif verdict == CUT_OFF:
                self._close(None, cause="model_cut_off")  # no reading came: the model's cut-off
        elif self.phase == Phase.SETTLING and now >= self.deadline:
            self._finish_fill(settled=False)

    # ------------------------------------------------------------------ the course
    def _advance(self) -> None:
        """What the station does next on its own, whatever the message was (until it rests)."""
        for _ in range(4):
            phase = self.phase
            if phase == Phase.FILLING:
                self._recheck_during_fill()
            elif phase == Phase.VERIFYING:
                self._verify()  # (judged also when paused or faulted: then it is refused, with why)
            elif self.state != phase.value:
                break  # paused, faulted or out of service: a cylinder waiting to fill waits
            elif phase == Phase.AWAITING_PRECHECK:
                self._awaiting_precheck()
            elif phase == Phase.READY:
                self._try_start(manual=False)
            if self.phase == phase:
                break
        if self.permit and self.phase != Phase.FILLING:
            self._order_closed("not filling")  # belt and braces: a permit only ever serves a fill

    def _verify(self) -> None:
        """After a scan: wait (bounded) for a steady reading, then judge everything at once."""
        if self._steady() or self.now >= self.deadline:
            self._judge()

    def _steady(self) -> bool:
        """Stable as DOMAIN.md says (the indicator's own flag, and the readings taken since the
        station began verifying within ± the band for the stable window). Only readings polled after
        that moment count: a cylinder swapped and scanned within one poll must not be judged on the
        previous cylinder's weight (in either direction: a full one refused, a stale empty reading
        passing a cylinder with residue)."""
        s, since = self.sample, self._steady_since
        return (
            s is not None
            and since is not None
            and self._present()
            and s.stable
            and s.at - since >= self.ctx.rules.stable_window_s
        )

    def _follow_steadiness(self, s: WeightSample) -> None:
        if s.at <= self._entered_at:
            return  # polled before the station began verifying: it may show the cylinder before
        band = 2 * self.ctx.rules.stable_band_kg
        if self._steady_since is None or not (
            s.gross_kg - band <= self._steady_lo <= self._steady_hi <= s.gross_kg + band
        ):
            self._steady_since, self._steady_lo, self._steady_hi = s.at, s.gross_kg, s.gross_kg
        else:
            self._steady_lo, self._steady_hi = (
                min(self._steady_lo, s.gross_kg),
                max(self._steady_hi, s.gross_kg),
            )

    def _judge(self) -> None:
        self._resolve_overfill()
        reasons = self._reasons()
        if reasons == (Reason.PRECHECK_MISSING,):
            self._enter(Phase.AWAITING_PRECHECK, self.now + self.ctx.rules.precheck_timeout_s)
        elif reasons:
            self._refuse(reasons)
        else:
            self._enter(Phase.READY, self.now + self.ctx.fill.stable_timeout_s)

    def _awaiting_precheck(self) -> None:
        if self._precheck() is not None:
            self._enter(Phase.VERIFYING, self.now + self.ctx.fill.stable_timeout_s)
            self._verify()
        elif self.now >= self.deadline:
            self._refuse(self._reasons())

    def _try_start(self, *, manual: bool) -> None:
        if not (manual or self.ctx.fill.auto_start):
            return
        s = self.sample
        if s is None or not s.stable:
            if self.now >= self.deadline:
                self._refuse(self._reasons())
            return  # the reading must be stable at the moment of the permit
        reasons = self._reasons()
        if reasons:
            self._refuse(reasons)
            return
        assert self.archive is not None  # (the interlock refuses without them)
        target = fill_target(self.archive, self.ctx.rules)  # (a top-up: the same target and maximum)
        self.fill = FillRun(
            self.ctx.new_id("fill"), target, self.preact_kg, cutoff=self.ctx.cutoff,
            settings=self.ctx.fill, started_at=self.now, gross_before_kg=s.gross_kg, learning=self.learning,
            topup_of=self._topup_of(s.gross_kg),
        )  # fmt: skip
        self.fill_operator, self.fill_started_wall, self.abort = self.badge, self.ctx.wall_now(), None
        self._registry_seen = self.ctx.floor.registry_version
        # The fill's open marker goes to storage first: the coordinator energises the permit only
        # once it is durable, so a supervisor killed during the fill leaves a fill to record.
        self._store(FillOpened(
            record_id=self.fill.record_id, cylinder=self._code() or "", station=self.ctx.station,
            operator=self.fill_operator, started_at=self.fill_started_wall, tare_kg=target.tare_kg,
            target_kg=target.target_gross_kg, gross_before_kg=s.gross_kg, preact_kg=self.preact_kg,
            precheck_id=self.precheck.record_id if self.precheck else None, topup_of=self.fill.topup_of,
        ))  # fmt: skip
        self._enter(Phase.FILLING)  # the valve opens on `FillMarked`

    def _topup_of(self, gross_kg: Decimal) -> str | None:
        """The under-filled fill this one tops up (DOMAIN.md: an under-fill may be topped up), if
        the cylinder weighs what that fill left in it."""
        last = self.ctx.floor.last_fill.get(self._code() or "")
        if last is None or not same_as_underfill(gross_kg, last.underfill_gross_kg, self.ctx.rules):
            return None
        return last.record_id

    @property
    def _awaiting_marker(self) -> bool:
        """A fill decided, its valve not yet ordered open: its open marker is not durable yet."""
        filling = self.phase == Phase.FILLING and self.fill is not None
        return filling and not self.permit and self.abort is None

    def _on_marked(self, msg: FillMarked) -> None:
        """The fill's marker is durable: open, if the permit rule (domain/permit_rule.py) holds: the
        fill did not end meanwhile (a stop, a pause, a lost device or a failed recheck closed it;
        those are judged on every message) and the station's runtime allows (else the recheck
        that follows ends the fill with the runtime's reason)."""
        fill = self.fill
        if fill is None or not may_permit(
            fill_under_way=self._awaiting_marker,
            marker_durable=fill.record_id == msg.record_id,
            blockers=self.ctx.gate_blockers(),
        ):
            return
        fill.valve_released(self.now, self.sample.gross_kg if self.sample else fill.gross_before_kg)
        if self.ctx.cutoff == "indicator":
            target_kg = fill.target.target_gross_kg
            self._out.append(IndicatorOrder(True, target_kg, fill.preact_kg, fill.record_id))
        self.permit = True
        self._mismatch_since = None
        self._out.append(PermitOrder(True, "fill", fill.record_id))
        self._emit(ValveCommand(self.ctx.station, True, "fill"))

    def _recheck_during_fill(self) -> None:
        """Withdraw the permit as soon as a condition fails that can fail during a fill. (A storage
        failure is not one: the fill's record waits in memory; only new permits are refused.)"""
        station = self._station_reasons(during_fill=True)
        if station:
            self._close(_DURING_FILL.get(station[0], station[0]))
            return
        operator = self._operator_reasons()
        if operator:
            self._close(operator[0])
            return
        if self.ctx.floor.registry_version != self._registry_seen:  # a block or a disable arrived
            self._registry_seen = self.ctx.floor.registry_version
            self.archive = self.ctx.floor.archives.get(self._code() or "")
            changed = eligibility_reasons(self.archive, self.ctx.floor.unit_code, self.ctx.floor.today(),
                                          self.ctx.rules, self.ctx.allowed_models)  # fmt: skip
            if changed:
                self._close(changed[0])

    def _close(self, abort: Reason | None, *, cause: str = "cut_off") -> None:
        """End the fill: the valve closes at once; re-weigh once the reading settles."""
        if self.phase != Phase.FILLING:
            return
        self.abort = abort
        self.closed_at = self.now
        self._order_closed(cause if abort is None else str(abort))
        if abort == Reason.FILL_READING_NOT_CREDIBLE:
            self._reading_not_credible()
        self._enter(Phase.SETTLING, self.now + self.ctx.fill.settle_timeout_s)
        if abort == Reason.FILL_CYLINDER_REMOVED:
            self._finish_fill(settled=False)

    def _order_closed(self, cause: str) -> None:
        was = self.permit
        self.permit = False
        self._mismatch_since = None
        self._out.append(PermitOrder(False, cause, self.fill.record_id if self.fill else None))
        if self.ctx.cutoff == "indicator":
            self._out.append(IndicatorOrder(False, fill=self.fill.record_id if self.fill else None))
        if was:
            self._emit(ValveCommand(self.ctx.station, False, cause))

    def _settle(self) -> None:
        s = self.sample
        valve_closed = self.valve is None or not self.valve.feedback_open
        if (
            s is not None
            and s.stable
            and valve_closed
            and s.at - self.closed_at >= self.ctx.rules.stable_window_s
        ):
            self._finish_fill(settled=True)
        elif not self._present():
            self.abort = self.abort or Reason.FILL_CYLINDER_REMOVED
            self._finish_fill(settled=False)

    def _finish_fill(self, *, settled: bool) -> None:
        """Re-weigh and record: flags per DOMAIN.md, the preact adapted from in-band fills only."""
        fill = self.fill
        assert fill is not None
        gross = self.sample.gross_kg if self.sample is not None and self._present() else None
        if not settled and gross is not None and self.abort is None:
            alarm_id = f"{self.ctx.station}.reweigh"
            self._alarm(raised(alarm_id, AlarmKind.FILL_REWEIGH_UNSTABLE, self.ctx.station))
        self._record_fill(gross, outcome="completed" if self.abort is None else "aborted")
        if not self._present():
            self._removed()
        elif self._post_checked(self._code() or "", fill.started_at):
            self._enter(Phase.DONE)  # the checker was quicker than the scale
        else:
            self._enter(Phase.AWAITING_POSTCHECK)

    def _record_fill(self, gross: Decimal | None, *, outcome: str) -> None:
        fill, floor = self.fill, self.ctx.floor
        assert fill is not None
        target, code = fill.target, self._code() or ""
        flags: frozenset[str] = frozenset()
        net = error_g = None
        if gross is not None:
            flags = frozenset(str(f) for f in fill_flags(target, gross))
            net = gross - target.tare_kg
            error_g = int(((gross - target.target_gross_kg) * _G).to_integral_value())
        self._store(FillRecord(
            record_id=fill.record_id, cylinder=code, station=self.ctx.station, operator=self.fill_operator,
            outcome=outcome, started_at=self.fill_started_wall, ended_at=self.ctx.wall_now(),
            reason=None if self.abort is None else str(self.abort), tare_kg=target.tare_kg,
            target_kg=target.target_gross_kg, gross_kg=gross, net_kg=net, error_g=error_g, flags=flags,
            gross_before_kg=fill.gross_before_kg, preact_kg=fill.preact_kg,
            precheck_id=self.precheck.record_id if self.precheck else None, topup_of=fill.topup_of,
        ))  # fmt: skip
        underfill = gross if FillFlag.UNDERFILL in flags else None
        floor.last_fill[code] = LastFill(fill.record_id, self.ctx.station, self.now, underfill)
        if fill.released:  # gas may have gone in: a post-fill check is due before it leaves
            self._post_check_due = (code, fill.record_id, fill.started_at)
        if outcome == "completed" and gross is not None:
            self._emit(FillCompleted(
                self.ctx.station, code, fill.record_id, tare_kg=float(target.tare_kg),
                target_kg=float(target.target_gross_kg), gross_kg=float(gross), net_kg=float(net or 0),
                error_g=error_g, flags=sorted(flags),
            ))  # fmt: skip
            self._learn(fill, gross - target.target_gross_kg, in_band=not flags)
        else:
            reason = str(self.abort or Reason.SUPERVISOR_SHUTDOWN)
            self._emit(FillAborted(self.ctx.station, code, fill.record_id, reason))
        self._flag_alarms(code, flags)
        self.fill = None

    def _learn(self, fill: FillRun, error_kg: Decimal, *, in_band: bool) -> None:
        """A completed fill teaches the station its in-flight mass and, when its readings were
        credible all through, its flow (stored: a restart keeps what was learned)."""
        learning, settings = self.learning, self.ctx.fill
        preact = adapt_preact(
            fill.preact_kg, error_kg, in_band, settings.preact, learned_fills=learning.fills
        )
        measure = fill.measured()
        if measure is not None:
            learning = learning.with_fill(measure, preact, settings.guard.flow_gain)
        else:
            learning = attrs.evolve(learning, preact_kg=preact)
        if learning != self.learning:
            self.learning = learning
            self._store(LearningRecord(self.ctx.station, learning))
        alarm_id = f"{self.ctx.station}.reading_not_credible"
        if measure is not None and alarm_id in self._standing:  # a whole fill on credible readings again
            self._alarm(self._standing.pop(alarm_id).cleared())

    def _reading_not_credible(self) -> None:
        """The fill guard closed the valve: the scale's readings stopped or disagree with the
        station's flow. Critical: the scale must be checked; it clears after a credible fill."""
        guard = self.fill.guard if self.fill is not None else None
        rule = (guard.tripped if guard is not None else None) or ""
        alarm_id = f"{self.ctx.station}.reading_not_credible"
        alarm = raised(alarm_id, AlarmKind.FILL_READING_NOT_CREDIBLE, self.ctx.station, rule=rule)
        self._standing[alarm_id] = alarm
        self._alarm(alarm)

    def _flag_alarms(self, code: str, flags: frozenset[str]) -> None:
        if FillFlag.OVER_MAX in flags:
            self._alarm(raised(f"over_max.{code}", AlarmKind.FILL_OVER_MAX, self.ctx.station, code=code))
        if FillFlag.OVERFILL in flags:
            # Must not leave the station until the excess is removed (docs/station.md).
            self._hold(Hold.OVERFILL, code, True, self._last_fill_id(code))

    def _resolve_overfill(self) -> None:
        """An over-filled cylinder weighed again within its band: the excess was removed."""
        code, s = self._code(), self.sample
        floor = self.ctx.floor
        if code is None or not floor.held(code, Hold.OVERFILL) or self.archive is None or s is None:
            return
        if not s.stable:
            return
        try:
            target = fill_target(self.archive, self.ctx.rules)
        except ValueError:
            return
        if FillFlag.OVERFILL not in fill_flags(target, s.gross_kg):
            self._hold(Hold.OVERFILL, code, False, self._last_fill_id(code))

    def _hold(self, kind: Hold, code: str, on: bool, fill_record_id: str | None) -> None:
        """Hold a cylinder or release it: stored (rebuilt at start), with its alarm raised or cleared."""
        if not self.ctx.floor.set_hold(code, kind, on):
            return
        self._store(HoldRecord(code, kind, on, self.ctx.wall_now(), self.ctx.station, fill_record_id))
        alarm = _HOLD_ALARMS[kind]
        self._alarm(
            (raised if on else cleared)(alarm.id.format(code=code), alarm.kind, self.ctx.station, code=code)
        )

    def _post_checked(self, code: str, since: float) -> bool:
        """A post-fill check that decides something since then: a fail, or a pass of every item."""
        check = self.ctx.floor.latest_check(code, CheckPhase.POST, since)
        return check is not None and (not check.passed or check.complete)

    def _last_fill_id(self, code: str) -> str | None:
        last = self.ctx.floor.last_fill.get(code)
        return last.record_id if last is not None else None

    def _removed(self) -> None:
        self._check_left_unchecked()
        self._release()
        self.label, self.archive, self.precheck = None, None, None
        self._enter(Phase.IDLE)

    def _check_left_unchecked(self) -> None:
        """A cylinder filled here leaves (lifted off, or another scanned in its place) without its
        post-fill check: that is recorded as missing, with an alarm, and it is held until one is."""
        due, self._post_check_due = self._post_check_due, None
        if due is None:
            return
        code, fill_record_id, started_at = due
        if self._post_checked(code, started_at):
            return
        self._hold(Hold.POST_CHECK_MISSING, code, True, fill_record_id)

    def _refuse(self, reasons: tuple[Reason, ...]) -> None:
        code = self._code()
        self._store_refusal(reasons, raw=self.label.raw if self.label else "", cylinder=code)
        self._emit(InterlockRefused(self.ctx.station, code, reasons))
        self._enter(Phase.REJECTED)
        if not self._present():
            self._removed()

    # ------------------------------------------------------------------ the interlock's facts
    def _station_reasons(self, *, during_fill: bool = False) -> tuple[Reason, ...]:
        reasons: list[Reason] = []
        if self.paused_by is not None:
            reasons.append(Reason.STATION_PAUSED)
        if self.faults or not (self.storage_ok or during_fill):
            reasons.append(Reason.STATION_FAULT)
        if self.ctx.floor.disabled(self.ctx.station):
            reasons.append(Reason.STATION_DISABLED_BY_REGULATOR)
        reasons.extend(self.ctx.gate_blockers())
        return tuple(reasons)

    def _operator_reasons(self) -> tuple[Reason, ...]:
        if self.badge is None:
            return (Reason.OPERATOR_NONE,)
        return operator_reasons(self.ctx.floor.operators.get(self.badge), self.ctx.floor.today())

    def _reasons(self) -> tuple[Reason, ...]:
        floor, code, s = self.ctx.floor, self._code(), self.sample
        self.precheck = self._precheck()
        facts = Facts(
            station=self._station_reasons(),
            badge=self.badge,
            operator=floor.operators.get(self.badge) if self.badge else None,
            label=self.label,
            archive=self.archive,
            held_elsewhere=code is not None and floor.holder(code) not in (None, self.ctx.station),
            holds=frozenset(h for h in Hold if code is not None and floor.held(code, h)),
            precheck=self.precheck,
            present=self._present(),
            stable=s is not None and s.stable,
            gross_kg=s.gross_kg if s is not None else None,
            topup_from_kg=last.underfill_gross_kg if (last := floor.last_fill.get(code or "")) else None,
        )
        return refusal_reasons(facts, unit_code=floor.unit_code, today=floor.today(), rules=self.ctx.rules,
                               allowed_models=self.ctx.allowed_models)  # fmt: skip

    def _precheck(self) -> CheckEntry | None:
        code = self._code()
        if code is None:
            return None
        since = self.now - self.ctx.rules.precheck_window_s
        return self.ctx.floor.latest_check(code, CheckPhase.PRE, since)

    # ------------------------------------------------------------------ helpers
    def _code(self) -> str | None:
        return self.label.code if self.label is not None else None

    def _present(self) -> bool:
        return self.sample is not None and self.sample.gross_kg >= self.ctx.fill.empty_below_kg

    def _release(self) -> None:
        if self.claimed is not None:
            self.ctx.floor.release(self.claimed, self.ctx.station)
            self.claimed = None

    def _enter(self, phase: Phase, deadline: float = float("inf")) -> None:
        self.phase, self.deadline, self._entered_at = phase, deadline, self.now
        self._steady_since = None
        self._announce()  # every step of the course is shown, also one passed in the same instant

    def _announce(self) -> None:
        state = self.state
        if state != self.shown:
            self.shown = state
            code = self._code()
            self._emit(StationState(self.ctx.station, state, code))

    def _emit(self, event: FloorEvent) -> None:
        self._out.append(event)

    def _store(self, record: Record) -> None:
        self._out.append(Store(record))

    def _store_refusal(self, reasons: tuple[Reason, ...], *, raw: str, cylinder: str | None = None) -> None:
        self._store(RefusalRecord(
            record_id=self.ctx.new_id("refusal"), station=self.ctx.station, reasons=[str(r) for r in reasons],
            at=self.ctx.wall_now(), cylinder=cylinder, raw=raw, operator=self.badge,
        ))  # fmt: skip

    def _alarm(self, notice: AlarmNotice) -> None:
        self._out.append(notice)  # stored and published by the floor's alarm desk

    def _raise_fault(self, cause: str, kind: AlarmKind, text: str | None = None, **params: str) -> None:
        if cause in self.faults:
            return
        alarm_id = f"{self.ctx.station}.{cause}"
        self.faults[cause] = alarm_id
        alarm = raised(alarm_id, kind, self.ctx.station, text, **params)
        self._fault_alarms[cause] = alarm
        self._alarm(alarm)

    def _clear_fault(self, cause: str) -> None:
        alarm_id = self.faults.pop(cause, None)
        alarm = self._fault_alarms.pop(cause, None)
        if alarm_id is not None and alarm is not None:
            self._alarm(alarm.cleared())

    def _fail_closed(self, exc: Exception) -> None:
        self._out = [e for e in self._out if not (isinstance(e, PermitOrder) and e.open)]
        self._order_closed(str(Reason.INTERNAL_ERROR))  # also when nothing seemed open: be sure
        if self.fill is not None:
            # Recorded now, without a re-weigh: what broke may be what a re-weigh would need.
            self.abort = self.abort or Reason.INTERNAL_ERROR
            try:
                self._record_fill(None, outcome="aborted")
            except Exception:  # the bare facts, then: a fill is never left unrecorded
                self._store(FillRecord(
                    record_id=self.fill.record_id, cylinder=self._code() or "", station=self.ctx.station,
                    operator=self.fill_operator, outcome="aborted", started_at=self.fill_started_wall,
                    ended_at=self.ctx.wall_now(), reason=str(Reason.INTERNAL_ERROR),
                ))  # fmt: skip
            self.fill = None
            self.phase, self.deadline = Phase.AWAITING_POSTCHECK, float("inf")
        self.faults.pop("internal", None)
        self._raise_fault("internal", AlarmKind.INTERNAL_ERROR, error=f"{type(exc).__name__}: {exc}")
