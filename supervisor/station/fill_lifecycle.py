"""A fill's lifecycle: its start (the open marker first), the permit once the marker is durable, the
recheck during the fill, the cut-off, the fill guard, the re-weigh, the record, what the station
learns from it, and the holds and alarms that follow from its result.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

import attrs

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import cleared, raised
from domain.eligibility import eligibility_reasons
from domain.events import FillAborted, FillCompleted, ValveCommand
from domain.fill_run import FillRun
from domain.filling import adapt_preact, fill_flags, fill_target
from domain.holds import Hold
from domain.interlock import same_as_underfill
from domain.messages import CheckPhase, FillMarked, IndicatorOrder, PermitOrder
from domain.permit_rule import may_permit
from domain.reasons import FillFlag, Reason
from domain.records import FillOpened, FillRecord, HoldRecord, LearningRecord
from supervisor.station.core_base import StationBase
from supervisor.station.floor import LastFill
from supervisor.station.station_state import Phase

# A device actor down while filling is a lost device for the fill record.
DURING_FILL = {
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


class FillLifecycle(StationBase):
    def _try_start(self, *, manual: bool) -> None:
        if not (manual or self.ctx.fill.auto_start):
            return
        s = self.sample
        if s is None or not s.stable:
            if self.now >= self.course.deadline:
                self._refuse(self._reasons())
            return  # the reading must be stable at the moment of the permit
        reasons = self._reasons()
        if reasons:
            self._refuse(reasons)
            return
        assert self.course.archive is not None  # (the interlock refuses without them)
        target = fill_target(self.course.archive, self.ctx.rules)  # (a top-up: the same target and maximum)
        self.lifecycle.fill = fill = FillRun(
            self.ctx.new_id("fill"), target, self.preact_kg, cutoff=self.ctx.cutoff,
            settings=self.ctx.fill, started_at=self.now, gross_before_kg=s.gross_kg, learning=self.learning,
            topup_of=self._topup_of(s.gross_kg),
        )  # fmt: skip
        self.lifecycle.fill_operator, self.lifecycle.fill_started_wall, self.lifecycle.abort = (
            self.course.badge,
            self.ctx.wall_now(),
            None,
        )
        self.lifecycle.registry_seen = self.ctx.floor.registry_version
        # The fill's open marker goes to storage first: the coordinator energises the permit only
        # once it is durable, so a supervisor killed during the fill leaves a fill to record.
        life, precheck = self.lifecycle, self.course.precheck
        self._store(FillOpened(
            record_id=fill.record_id, cylinder=self._code() or "", station=self.ctx.station,
            operator=life.fill_operator, started_at=life.fill_started_wall, tare_kg=target.tare_kg,
            target_kg=target.target_gross_kg, gross_before_kg=s.gross_kg, preact_kg=self.preact_kg,
            precheck_id=precheck.record_id if precheck else None, topup_of=fill.topup_of,
        ))  # fmt: skip
        self._enter(Phase.FILLING)  # the valve opens on `FillMarked`

    def _topup_of(self, gross_kg: Decimal) -> str | None:
        """The under-filled fill this one tops up (docs/station.md: an under-fill may be topped up), if
        the cylinder weighs what that fill left in it."""
        last = self.ctx.floor.last_fill.get(self._code() or "")
        if last is None or not same_as_underfill(gross_kg, last.underfill_gross_kg, self.ctx.rules):
            return None
        return last.record_id

    @property
    def _awaiting_marker(self) -> bool:
        """A fill decided, its valve not yet ordered open: its open marker is not durable yet."""
        filling = self.course.phase == Phase.FILLING and self.lifecycle.fill is not None
        return filling and not self.lifecycle.permit and self.lifecycle.abort is None

    def _on_marked(self, msg: FillMarked) -> None:
        """The fill's marker is durable: open, if the permit rule (domain/permit_rule.py) holds: the
        fill did not end meanwhile (a stop, a pause, a lost device or a failed recheck closed it;
        those are judged on every message) and the station's runtime allows (else the recheck
        that follows ends the fill with the runtime's reason)."""
        fill = self.lifecycle.fill
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
        self.lifecycle.permit = True
        self.lifecycle.mismatch_since = None
        self._out.append(PermitOrder(True, "fill", fill.record_id))
        self._emit(ValveCommand(self.ctx.station, True, "fill"))

    def _recheck_during_fill(self) -> None:
        """Withdraw the permit as soon as a condition fails that can fail during a fill. (A storage
        failure is not one: the fill's record waits in memory; only new permits are refused.)"""
        station = self._station_reasons(during_fill=True)
        if station:
            self._close(DURING_FILL.get(station[0], station[0]))
            return
        operator = self._operator_reasons()
        if operator:
            self._close(operator[0])
            return
        if self.ctx.floor.registry_version != self.lifecycle.registry_seen:  # a block or a disable arrived
            self.lifecycle.registry_seen = self.ctx.floor.registry_version
            self.course.archive = self.ctx.floor.archives.get(self._code() or "")
            floor = self.ctx.floor
            changed = eligibility_reasons(self.course.archive, floor.unit_code, floor.today(), self.ctx.rules,
                                          self.ctx.allowed_models)  # fmt: skip
            if changed:
                self._close(changed[0])

    def _close(self, abort: Reason | None, *, cause: str = "cut_off") -> None:
        """End the fill: the valve closes at once; re-weigh once the reading settles."""
        if self.course.phase != Phase.FILLING:
            return
        self.lifecycle.abort = abort
        self.lifecycle.closed_at = self.now
        self._order_closed(cause if abort is None else str(abort))
        if abort == Reason.FILL_READING_NOT_CREDIBLE:
            self._reading_not_credible()
        self._enter(Phase.SETTLING, self.now + self.ctx.fill.settle_timeout_s)
        if abort == Reason.FILL_CYLINDER_REMOVED:
            self._finish_fill(settled=False)

    def _order_closed(self, cause: str) -> None:
        was = self.lifecycle.permit
        self.lifecycle.permit = False
        self.lifecycle.mismatch_since = None
        self._out.append(
            PermitOrder(False, cause, self.lifecycle.fill.record_id if self.lifecycle.fill else None)
        )
        if self.ctx.cutoff == "indicator":
            self._out.append(
                IndicatorOrder(False, fill=self.lifecycle.fill.record_id if self.lifecycle.fill else None)
            )
        if was:
            self._emit(ValveCommand(self.ctx.station, False, cause))

    def _settle(self) -> None:
        s = self.sample
        valve_closed = self.valve is None or not self.valve.feedback_open
        if (
            s is not None
            and s.stable
            and valve_closed
            and s.at - self.lifecycle.closed_at >= self.ctx.rules.stable_window_s
        ):
            self._finish_fill(settled=True)
        elif not self._present():
            self.lifecycle.abort = self.lifecycle.abort or Reason.FILL_CYLINDER_REMOVED
            self._finish_fill(settled=False)

    def _finish_fill(self, *, settled: bool) -> None:
        """Re-weigh and record: flags per docs/station.md, the preact adapted from in-band fills only."""
        fill = self.lifecycle.fill
        assert fill is not None
        gross = self.sample.gross_kg if self.sample is not None and self._present() else None
        if not settled and gross is not None and self.lifecycle.abort is None:
            alarm_id = f"{self.ctx.station}.reweigh"
            self._alarm(raised(alarm_id, AlarmKind.FILL_REWEIGH_UNSTABLE, self.ctx.station))
        self._record_fill(gross, outcome="completed" if self.lifecycle.abort is None else "aborted")
        if not self._present():
            self._removed()
        elif self._post_checked(self._code() or "", fill.started_at):
            self._enter(Phase.DONE)  # the checker was quicker than the scale
        else:
            self._enter(Phase.AWAITING_POSTCHECK)

    def _record_fill(self, gross: Decimal | None, *, outcome: str) -> None:
        fill, floor = self.lifecycle.fill, self.ctx.floor
        assert fill is not None
        target, code = fill.target, self._code() or ""
        flags: tuple[str, ...] = ()
        net = error_g = None
        if gross is not None:
            flags = tuple(sorted({str(f) for f in fill_flags(target, gross)}))
            net = gross - target.tare_kg
            error_g = int(((gross - target.target_gross_kg) * _G).to_integral_value())
        life, precheck = self.lifecycle, self.course.precheck
        self._store(FillRecord(
            record_id=fill.record_id, cylinder=code, station=self.ctx.station, operator=life.fill_operator,
            outcome=outcome, started_at=life.fill_started_wall, ended_at=self.ctx.wall_now(),
            reason=None if life.abort is None else str(life.abort), tare_kg=target.tare_kg,
            target_kg=target.target_gross_kg, gross_kg=gross, net_kg=net, error_g=error_g, flags=flags,
            gross_before_kg=fill.gross_before_kg, preact_kg=fill.preact_kg,
            precheck_id=precheck.record_id if precheck else None, topup_of=fill.topup_of,
        ))  # fmt: skip
        underfill = gross if FillFlag.UNDERFILL in flags else None
        floor.last_fill[code] = LastFill(fill.record_id, self.ctx.station, self.now, underfill)
        if fill.released:  # gas may have gone in: a post-fill check is due before it leaves
            self.lifecycle.post_check_due = (code, fill.record_id, fill.started_at)
        if outcome == "completed" and gross is not None:
            self._emit(FillCompleted(
                self.ctx.station, code, fill.record_id, tare_kg=float(target.tare_kg),
                target_kg=float(target.target_gross_kg), gross_kg=float(gross), net_kg=float(net or 0),
                error_g=error_g, flags=sorted(flags),
            ))  # fmt: skip
            self._learn(fill, gross - target.target_gross_kg, in_band=not flags)
        else:
            reason = str(self.lifecycle.abort or Reason.SUPERVISOR_SHUTDOWN)
            self._emit(FillAborted(self.ctx.station, code, fill.record_id, reason))
        self._flag_alarms(code, flags)
        self.lifecycle.fill = None

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
        if (
            measure is not None and alarm_id in self.fault_state.standing
        ):  # a whole fill on credible readings again
            self._alarm(self.fault_state.standing.pop(alarm_id).cleared())

    def _reading_not_credible(self) -> None:
        """The fill guard closed the valve: the scale's readings stopped or disagree with the
        station's flow. Critical: the scale must be checked; it clears after a credible fill."""
        guard = self.lifecycle.fill.guard if self.lifecycle.fill is not None else None
        rule = (guard.tripped if guard is not None else None) or ""
        alarm_id = f"{self.ctx.station}.reading_not_credible"
        alarm = raised(alarm_id, AlarmKind.FILL_READING_NOT_CREDIBLE, self.ctx.station, rule=rule)
        self.fault_state.standing[alarm_id] = alarm
        self._alarm(alarm)

    def _flag_alarms(self, code: str, flags: tuple[str, ...]) -> None:
        if FillFlag.OVER_MAX in flags:
            self._alarm(raised(f"over_max.{code}", AlarmKind.FILL_OVER_MAX, self.ctx.station, code=code))
        if FillFlag.OVERFILL in flags:
            # Must not leave the station until the excess is removed (docs/station.md).
            self._hold(Hold.OVERFILL, code, True, self._last_fill_id(code))

    def _resolve_overfill(self) -> None:
        """An over-filled cylinder weighed again within its band: the excess was removed."""
        code, s = self._code(), self.sample
        floor = self.ctx.floor
        if code is None or not floor.held(code, Hold.OVERFILL) or self.course.archive is None or s is None:
            return
        if not s.stable:
            return
        try:
            target = fill_target(self.course.archive, self.ctx.rules)
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

    def _check_left_unchecked(self) -> None:
        """A cylinder filled here leaves (lifted off, or another scanned in its place) without its
        post-fill check: that is recorded as missing, with an alarm, and it is held until one is."""
        due, self.lifecycle.post_check_due = self.lifecycle.post_check_due, None
        if due is None:
            return
        code, fill_record_id, started_at = due
        if self._post_checked(code, started_at):
            return
        self._hold(Hold.POST_CHECK_MISSING, code, True, fill_record_id)
