"""A station's course: scan, operator, checks, console orders, the wait for a steady reading and the
interlock's judgement (docs/station.md). It decides when a fill may start;
the fill itself is `fill_lifecycle.py`'s.
"""

from __future__ import annotations

from typing import assert_never

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import cleared, raised
from domain.checks import CheckEntry, counts_as_pass
from domain.events import CheckRecorded, CheckRefused, InterlockRefused, OperatorLogin, OperatorLogout, Scan
from domain.holds import Hold
from domain.interlock import Facts, refusal_reasons
from domain.labels import LabelResult, parse_label, safe_text
from domain.messages import CheckPhase, CheckSubmitted, ConsoleOrder, OrderKind, Scanned, WeightSample
from domain.operators import operator_reasons
from domain.reasons import Reason
from domain.records import CheckRecord
from domain.unreadable_burst import Frame
from supervisor.station.core_base import StationBase
from supervisor.station.station_state import Phase

_WAITING_TO_FILL = (Phase.VERIFYING, Phase.AWAITING_PRECHECK, Phase.READY)
# A label scanned after a fill means the next cylinder is on the scale (a swap can be quicker than
# a poll shows an empty scale); during a fill or its re-weigh a scan changes nothing.
_SCAN_ACCEPTED = (Phase.IDLE, Phase.REJECTED, *_WAITING_TO_FILL, Phase.AWAITING_POSTCHECK, Phase.DONE)


class Course(StationBase):
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
        if label.reason == Reason.LABEL_UNREADABLE and self._junk():
            return  # one more frame of a burst: counted, not published, judged or recorded
        self._emit(Scan(self.ctx.station, label.raw, label.code))
        if self.course.phase not in _SCAN_ACCEPTED:
            return  # a fill is under way or done: the cylinder on the scale is not changed by a scan
        if self.lifecycle.post_check_due is not None and self.lifecycle.post_check_due[0] != label.code:
            self._check_left_unchecked()  # another cylinder in its place: the filled one has left
        self._release()
        self.course.label, self.course.precheck = label, None
        accepted = label.reason is None and label.code is not None
        self.course.archive = self.ctx.floor.archives.get(label.code) if accepted and label.code else None
        if not accepted or label.code is None:
            self._refuse(self._reasons())  # nothing to verify: refuse at once, with every reason
            return
        holder = self.ctx.floor.claim(label.code, self.ctx.station)
        if holder is None:
            self.course.claimed = label.code
        self._enter(Phase.VERIFYING, self.now + self.ctx.fill.stable_timeout_s)
        self._verify()

    def _junk(self) -> bool:
        """Whether this unreadable frame belongs to a burst already refused (domain.unreadable_burst)."""
        frame = self.unreadable.frame(self.now)
        if frame == Frame.ALARM:
            self._alarm(raised(self._junk_alarm_id(), AlarmKind.SCANNER_JUNK, self.ctx.station,
                               frames=str(self.unreadable.alarm_after)))  # fmt: skip
        return frame != Frame.FIRST

    def _junk_alarm_id(self) -> str:
        return f"{self.ctx.station}.scanner_junk"

    def _judge_burst(self) -> None:
        """A burst of unreadable frames that is over: one record with its count, its alarm cleared."""
        end = self.unreadable.ended(self.now)
        if end is None:
            return
        self._store_refusal((Reason.LABEL_UNREADABLE,),
                            raw=f"{end.frames} unreadable frames in {end.seconds:.1f} s")  # fmt: skip
        if end.alarmed:
            self._alarm(cleared(self._junk_alarm_id(), AlarmKind.SCANNER_JUNK, self.ctx.station, "raised",
                                frames=str(self.unreadable.alarm_after)))  # fmt: skip

    def _on_badge(self, badge: str) -> None:
        if badge == self.course.badge:
            self.course.badge = None
            self._emit(OperatorLogout(self.ctx.station, badge))
        else:
            self.course.badge = badge
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
        self._emit(
            CheckRecorded(
                self.ctx.station, code, msg.phase.value, result, msg.passed and complete, checker=msg.checker
            )
        )
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
        if self.course.phase == Phase.AWAITING_POSTCHECK and self._code() == code:
            self._enter(Phase.DONE)

    def _on_console(self, msg: ConsoleOrder) -> None:
        match msg.kind:
            case OrderKind.PAUSE:
                self.course.paused_by = msg.by
                if self.course.phase == Phase.FILLING:
                    self._close(Reason.OPERATOR_STOP)
            case OrderKind.RESUME:
                self.course.paused_by = None
                self._clear_fault("internal")
                if self.course.phase in _WAITING_TO_FILL:
                    self._enter(Phase.VERIFYING, self.now + self.ctx.fill.stable_timeout_s)
            case OrderKind.STOP:
                if self.course.phase == Phase.FILLING:
                    self._close(Reason.OPERATOR_STOP)
            case OrderKind.START:  # (while paused or faulted the course holds: nothing starts)
                if self.course.phase == Phase.READY and self.state == Phase.READY.value:
                    self._try_start(manual=True)
            case _:
                assert_never(msg.kind)

    def _advance(self) -> None:
        """What the station does next on its own, whatever the message was (until it rests)."""
        for _ in range(4):
            phase = self.course.phase
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
            if self.course.phase == phase:
                break
        if self.lifecycle.permit and self.course.phase != Phase.FILLING:
            self._order_closed("not filling")  # belt and braces: a permit only ever serves a fill

    def _verify(self) -> None:
        """After a scan: wait (bounded) for a steady reading, then judge everything at once."""
        if self._steady() or self.now >= self.course.deadline:
            self._judge()

    def _steady(self) -> bool:
        """Stable as docs/station.md says (the indicator's own flag, and the readings taken since the
        station began verifying within ± the band for the stable window). Only readings polled after
        that moment count: a cylinder swapped and scanned within one poll must not be judged on the
        previous cylinder's weight (in either direction: a full one refused, a stale empty reading
        passing a cylinder with residue)."""
        s, since = self.sample, self.course.steady_since
        return (
            s is not None
            and since is not None
            and self._present()
            and s.stable
            and s.at - since >= self.ctx.rules.stable_window_s
        )

    def _follow_steadiness(self, s: WeightSample) -> None:
        if s.at <= self.course.entered_at:
            return  # polled before the station began verifying: it may show the cylinder before
        band = 2 * self.ctx.rules.stable_band_kg
        if self.course.steady_since is None or not (
            s.gross_kg - band <= self.course.steady_lo <= self.course.steady_hi <= s.gross_kg + band
        ):
            self.course.steady_since, self.course.steady_lo, self.course.steady_hi = (
                s.at,
                s.gross_kg,
                s.gross_kg,
            )
        else:
            self.course.steady_lo, self.course.steady_hi = (
                min(self.course.steady_lo, s.gross_kg),
                max(self.course.steady_hi, s.gross_kg),
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
        elif self.now >= self.course.deadline:
            self._refuse(self._reasons())

    def _removed(self) -> None:
        self._check_left_unchecked()
        self._release()
        self.course.label, self.course.archive, self.course.precheck = None, None, None
        self._enter(Phase.IDLE)

    def _refuse(self, reasons: tuple[Reason, ...]) -> None:
        code = self._code()
        self._store_refusal(reasons, raw=self.course.label.raw if self.course.label else "", cylinder=code)
        self._emit(InterlockRefused(self.ctx.station, code, reasons))
        self._enter(Phase.REJECTED)
        if not self._present():
            self._removed()

    def _station_reasons(self, *, during_fill: bool = False) -> tuple[Reason, ...]:
        reasons: list[Reason] = []
        if self.course.paused_by is not None:
            reasons.append(Reason.STATION_PAUSED)
        if self.fault_state.faults or not (self.fault_state.storage_ok or during_fill):
            reasons.append(Reason.STATION_FAULT)
        if self.ctx.floor.disabled(self.ctx.station):
            reasons.append(Reason.STATION_DISABLED_BY_REGULATOR)
        reasons.extend(self.ctx.gate_blockers())
        return tuple(reasons)

    def _operator_reasons(self) -> tuple[Reason, ...]:
        if self.course.badge is None:
            return (Reason.OPERATOR_NONE,)
        return operator_reasons(self.ctx.floor.operators.get(self.course.badge), self.ctx.floor.today())

    def _reasons(self) -> tuple[Reason, ...]:
        floor, code, s = self.ctx.floor, self._code(), self.sample
        self.course.precheck = self._precheck()
        facts = Facts(
            station=self._station_reasons(),
            badge=self.course.badge,
            operator=floor.operators.get(self.course.badge) if self.course.badge else None,
            label=self.course.label,
            archive=self.course.archive,
            held_elsewhere=code is not None and floor.holder(code) not in (None, self.ctx.station),
            holds=frozenset(h for h in Hold if code is not None and floor.held(code, h)),
            precheck=self.course.precheck,
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
