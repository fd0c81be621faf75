"""One fill's supervision, sample by sample: when to cut off, when to abort.

docs/station.md, "Fill control": supervise like a fill controller (HBM, Mettler-Toledo) — maximum fill
time, no flow (a minimum rate over a window), a drop in weight, the cylinder lifted off, and an
overweight hard cap (target + tolerance, never above tare + max fill) that the host checks in both
cut-off modes. In `host` mode the cut-off itself is decided here, at target − preact; in
`indicator` mode the indicator cuts off at its own A/D rate and reports it in its fill state.

Every fill is bounded by the station's own model as well (`fill_guard.py`): dead reckoning from the
learned flow, a time cap from the fastest flow seen, readings that stop or disagree with the flow.
The no-flow window stays, as the last line.

Pure: no I/O, no clock. `FillRun.on_sample` answers CUT_OFF, an abort reason, or None (go on).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Literal

from domain.fill_guard import FillGuard, FlowMeasure, StationLearning
from domain.fill_settings import FillSettings
from domain.filling import FillTarget
from domain.messages import IndicatorFillState, ValveStatus, WeightSample
from domain.reasons import Reason

__all__ = ["CUT_OFF", "FillRun", "Verdict"]

CUT_OFF: Literal["cut_off"] = "cut_off"
Verdict = Reason | Literal["cut_off"] | None


class FillRun:
    def __init__(
        self,
        record_id: str,
        target: FillTarget,
        preact_kg: Decimal,
        *,
        cutoff: str,
        settings: FillSettings,
        started_at: float,
        gross_before_kg: Decimal,
        learning: StationLearning | None = None,
        topup_of: str | None = None,
    ) -> None:
        self.record_id = record_id
        self.target = target
        self.preact_kg = preact_kg
        self.cutoff = cutoff
        self.settings = settings
        self.started_at = started_at
        self.gross_before_kg = gross_before_kg
        self.cut_off_at_kg = target.target_gross_kg - preact_kg  # host mode closes here
        self.max_seen_kg = gross_before_kg
        self._window_s = settings.no_flow_window_s
        self._min_gain_kg = Decimal(str(settings.no_flow_min_kg_s * settings.no_flow_window_s))
        self._history: deque[tuple[float, Decimal]] = deque([(started_at, gross_before_kg)])
        self.indicator_started = False
        self._half_net_kg = target.rated_net_kg / 2
        self.released = False  # the valve may open: its marker is durable
        self.learning = learning or StationLearning()
        self.topup_of = topup_of  # a top-up: the under-filled fill it completes
        self.guard: FillGuard | None = None  # from the moment the valve may open
        self.cut_by_model = False  # no reading came for a while: the station's model cut it off

    def valve_released(self, now: float, gross_kg: Decimal) -> None:
        """The valve may open only now (its marker took a while to be durable): the fill's time
        limits count from here, not from the decision to fill."""
        self.started_at = now
        self.released = True
        self._history = deque([(now, gross_kg)])
        self.guard = FillGuard(
            cut_off_kg=self.cut_off_at_kg, max_kg=self.target.max_gross_kg, start_kg=gross_kg,
            released_at=now, preact_kg=self.preact_kg, learning=self.learning,
            settings=self.settings.guard,
        )  # fmt: skip

    def on_valve(self, v: ValveStatus) -> None:
        if self.guard is not None:
            self.guard.valve(v.at, v.feedback_open)

    def measured(self) -> FlowMeasure | None:
        """What this fill's readings showed of the station's flow (None: nothing to learn from)."""
        return self.guard.measure() if self.guard is not None else None

    def on_sample(self, s: WeightSample) -> Verdict:
        gross = s.gross_kg
        if gross < self.settings.empty_below_kg:
            return Reason.FILL_CYLINDER_REMOVED
        if s.error:
            return Reason.DEVICE_SCALE_LOST  # the indicator's A/D reports a fault: no valid weight
        if s.overload or gross >= self.target.hard_cap_kg:
            return Reason.FILL_HARD_CAP
        if gross < self.max_seen_kg - self.settings.weight_drop_kg:
            return Reason.FILL_WEIGHT_DROP
        self.max_seen_kg = max(self.max_seen_kg, gross)
        if (verdict := self._max_time(s.at)) is not None:
            return verdict
        if (verdict := self._cut_off(s, gross)) is not None:
            return verdict  # the readings show the cut-off point: the model has nothing to add
        if self.guard is not None and (verdict := self.guard.sample(s.at, gross, s.received_at)) is not None:
            return verdict
        if self._stalled(s.at, gross):
            return Reason.FILL_STALLED  # the last line: no flow over the whole window
        return None

    def _cut_off(self, s: WeightSample, gross: Decimal) -> Verdict:
        if self.cutoff == "host":
            return CUT_OFF if gross >= self.cut_off_at_kg else None
        if s.fill_state == IndicatorFillState.FILLING or gross - self.gross_before_kg >= self._half_net_kg:
            self.indicator_started = True  # (a fill fast enough to be cut off between two polls)
        if not self.indicator_started:
            return None  # a cut-off or abort left over from before this fill is not this fill's
        if s.fill_state == IndicatorFillState.CUT_OFF:
            return CUT_OFF
        if s.fill_state == IndicatorFillState.ABORTED:
            return Reason.INTERNAL_ERROR  # the indicator stopped the fill on its own
        return None

    def on_time(self, now: float) -> Verdict:
        """Judged on every message: the fill's time limits, and the model when samples stop (a cut-off
        by the model: `cut_by_model`)."""
        if (verdict := self._max_time(now)) is not None:
            return verdict
        if self.guard is not None and self.guard.time(now):
            self.cut_by_model = True
            return CUT_OFF
        return None

    def _max_time(self, now: float) -> Verdict:
        if not self.released:  # waiting for its marker: a busy database delays it, a dead one ends it
            if now - self.started_at >= self.settings.marker_timeout_s:
                return Reason.STATION_FAULT
            return None
        if now - self.started_at >= self.settings.max_fill_time_s:
            return Reason.FILL_MAX_TIME
        return None

    def _stalled(self, now: float, gross: Decimal) -> bool:
        """No flow: less than the minimum rate's worth gained over the last full window."""
        history = self._history
        history.append((now, gross))
        while len(history) > 2 and history[1][0] <= now - self._window_s:
            history.popleft()
        oldest_at, oldest_kg = history[0]
        return now - oldest_at >= self._window_s and gross - oldest_kg < self._min_gain_kg
