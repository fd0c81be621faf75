"""The fill guard: a bound on every fill from the station's own model, independent of the scale.

A weighing indicator that keeps answering while its reading stops changing (a frozen A/D, a hung
filter, firmware stuck with its Modbus task alive) is the likeliest sensor failure on a floor, and
both cut-offs trust that reading: the indicator cuts off on its own frozen value, the host on the
value it polls. Overfilled LPG cylinders burst, so while the valve is open the guard judges every
sample against what the station knows of itself (`StationLearning`: its flow, the fastest flow seen
at it, its indicator's division and noise) and ends the fill, `fill.reading_not_credible`, when:

1. **dead reckoning** says the cut-off point (target − preact) is reached and the readings do not
   show it: the mass is predicted from the last reading that moved and the learned flow (when no
   reading comes at all for `late_s`, the model cuts the fill off instead: see `time`);
2. **the time cap** is reached: the fastest flow seen at the station, from the last reading that
   moved, would reach the legal maximum (less what is in flight when the valve closes);
3. the reading **stopped moving** while the valve's switch shows it open;
4. the reading's rate is **far below or far above** the station's flow for several samples.

"The readings do not show it" and "stopped" need evidence: a frozen A/D repeats its last value
exactly, and a live reading moving with the flow cannot repeat it for long. How long depends on
the flow and the indicator's noise: a clean indicator at a fast flow cannot repeat a value once, a
noisy one at a slow flow may repeat it several polls running by chance. So a run of repeats counts
as evidence once the chance that a live reading at the slowest plausible flow shows it falls below
`evidence` (one in 100,000 by default); the indicator's noise is estimated from the readings.
When the samples stop coming (a silent scale, or a loaded machine's late poll), 1 and 2 say when
the model cuts the fill off: after `late_s` without a sample, once the cut-off point or the cap is
reached by the prediction, the valve closes as at a cut-off and the re-weigh judges the fill.

The time a repeated value counts from is the poll *before* it first appeared (it may have been
reached any time since), so the prediction is never behind the truth by a poll's age. Nothing
flows, as far as two devices can tell, until the reading rises or the valve's position switch shows
it open; while the switch shows it closed again, a still reading is explained (no flow) and the
feedback check judges the valve.

Before a station has learned anything it is assumed as fast as `flow_max_kg_s` (dead reckoning and
the cap then close early, never late) and as slow as `flow_min_kg_s` (rules 3 and 4 tolerate slow
stations). A normal fill never meets these bounds: its readings move, and the cut-off comes first.
Pure: no I/O, no clock; floats, as a model's predictions are (records keep Decimals).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from decimal import Decimal
from typing import Any

import attrs
from attrs import field, frozen

from domain.reasons import Reason
from domain.setting import limited

__all__ = ["FillGuard", "FlowMeasure", "GuardSettings", "StationLearning"]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be above zero, got {value}")


def _positive_mass(_instance: object, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
    if not (value.is_finite() and value > 0):
        raise ValueError(f"{attribute.name} must be above zero, got {value}")


@frozen
class GuardSettings:
    """The fill guard's settings (`[station.fill]`, keys `guard_*`; docs/station.md, Fill guard)."""

    # The slowest and fastest flows a station may have, assumed until it has learned its own.
    # A plant whose pumps fill faster than flow_max_kg_s must raise it (the guard would close late).
    flow_min_kg_s: float = field(default=0.1, validator=_positive)
    flow_max_kg_s: float = field(default=3.0, validator=_positive)
    # Repeats count as evidence once a live reading would show them by chance less often than this.
    evidence: float = field(default=1e-5, validator=_positive)
    # The indicator's update period (its output rate): a value seen again within it is no repeat.
    # A 50 Hz indicator by default; set 0.1 for one that updates its registers at 10 Hz.
    update_s: float = field(default=0.02, validator=_positive)
    # Between two polls a flow does not fall below this fraction of what the readings just showed
    # (unless the valve closes, and its switch says so).
    steady: float = field(default=0.7, validator=_positive)
    # After the valve opens, the reading may stay still this long (the indicator's filter, the
    # line filling) before rule 3 judges it (dead reckoning and the cap apply at once).
    start_s: float = field(default=0.3, validator=_positive)
    # No sample for this long while the model says the cut-off point or the cap is reached: close.
    late_s: float = field(default=0.15, validator=_positive)
    # Rule 4: the rate over this window, judged once it is full, out of range this many samples in
    # a row; far below = under rate_low × the learned flow, far above = over rate_high × the fastest.
    rate_window_s: float = field(default=0.5, validator=_positive)
    rate_samples: int = field(default=3, validator=_positive, metadata=limited(lo=1, hi=1_000_000))
    rate_low: float = field(default=0.25, validator=_positive)
    rate_high: float = field(default=4.0, validator=_positive)
    # The fastest flow assumed once learned: the largest seen × this.
    peak_margin: float = field(default=1.25, validator=_positive)
    # The indicator's division and reading noise (standard deviation) until the readings show them.
    division_kg: Decimal = field(default=Decimal("0.01"), validator=_positive_mass)
    noise_kg: Decimal = field(default=Decimal("0.005"), validator=_positive_mass)
    # How fast the learned flow follows new fills (exponential average).
    flow_gain: float = field(default=0.3, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.flow_min_kg_s >= self.flow_max_kg_s:
            raise ValueError("guard flow_min_kg_s must be below flow_max_kg_s")
        if not (
            self.flow_gain <= 1
            and self.evidence < 1
            and self.steady < 1
            and self.rate_low < 1 < self.rate_high
        ):
            raise ValueError("guard: flow_gain ≤ 1, evidence < 1, steady < 1 and rate_low < 1 < rate_high")


@frozen
class FlowMeasure:
    """What one fill's credible readings showed of the station."""

    flow_kg_s: float  # mean, over the fill after its start
    peak_kg_s: float  # the largest rate over a window
    division_kg: Decimal | None  # the greatest common step of its readings
    noise_kg: float | None  # the readings' noise (standard deviation)


@frozen
class StationLearning:
    """What a station has learned from its own completed fills; stored, so a restart keeps it."""

    preact_kg: Decimal | None = None  # the in-flight mass; None: not learned (the settings' start)
    flow_kg_s: float | None = None  # the flow of recent fills (exponential average)
    peak_flow_kg_s: float | None = None  # the largest flow seen in a fill
    division_kg: Decimal | None = None  # the step the indicator reads in
    noise_kg: float | None = None  # the indicator's reading noise
    fills: int = 0  # completed fills learned from

    def with_fill(self, measure: FlowMeasure, preact_kg: Decimal, gain: float) -> StationLearning:
        """After a completed fill with credible readings: its flow joins the average."""

        def averaged(old: float | None, new: float | None) -> float | None:
            if new is None or old is None:
                return new if new is not None else old
            return round(old + gain * (new - old), 6)

        division = measure.division_kg
        if self.division_kg is not None and division is not None:
            division = _gcd(self.division_kg, division)
        peak = max(self.peak_flow_kg_s or 0.0, measure.peak_kg_s, measure.flow_kg_s)
        return StationLearning(
            preact_kg=preact_kg, flow_kg_s=averaged(self.flow_kg_s, measure.flow_kg_s),
            peak_flow_kg_s=round(peak, 6), division_kg=division or self.division_kg,
            noise_kg=averaged(self.noise_kg, measure.noise_kg), fills=self.fills + 1,
        )  # fmt: skip


def _gcd(a: Decimal, b: Decimal) -> Decimal:
    """The greatest common step of two masses read to the gram or finer."""
    exponent = min(int(a.as_tuple().exponent), int(b.as_tuple().exponent), -3)
    scale = Decimal(10) ** -exponent
    return Decimal(math.gcd(int(a * scale), int(b * scale))) / scale


def _slope(points: deque[tuple[float, float]]) -> float:
    """The least-squares slope of (time, mass) points: kg/s."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (m - mean_m) for t, m in points) / spread if spread > 0 else 0.0


def _in_band(lo: float, hi: float, sigma: float) -> float:
    """P(lo < X < hi) for X ~ N(0, sigma²); sigma 0 is a point at 0."""
    if sigma <= 0:
        return 1.0 if lo < 0 < hi else 0.0
    root = sigma * math.sqrt(2)
    return 0.5 * (math.erf(hi / root) - math.erf(lo / root))


class FillGuard:
    """One fill's guard, from the moment its valve may open until it is ordered closed."""

    def __init__(
        self,
        *,
        cut_off_kg: Decimal,
        max_kg: Decimal,
        start_kg: Decimal,
        released_at: float,
        preact_kg: Decimal,
        learning: StationLearning,
        settings: GuardSettings,
    ) -> None:
        s = self.settings = settings
        self.cut_off_kg = float(cut_off_kg)
        learned = learning.flow_kg_s is not None and learning.fills > 0
        # Dead reckoning's flow: the learned one, or the fastest plausible (closes early, not late).
        self.flow = learning.flow_kg_s if learned and learning.flow_kg_s else s.flow_max_kg_s
        peak = (learning.peak_flow_kg_s or 0.0) * s.peak_margin
        self.fastest = max(self.flow, peak) if learned else s.flow_max_kg_s
        self.slowest = self.flow * s.rate_low if learned else s.flow_min_kg_s
        # What is still in flight when the valve closes at the fastest flow: the preact measures it at
        # the learned flow; before learning a valve as slow as 0.3 s is assumed.
        lag_s = float(preact_kg) / self.flow if learned and preact_kg > 0 else 0.3
        self.max_kg = float(max_kg) - self.fastest * lag_s
        self._division = learning.division_kg or s.division_kg
        self._division_seen: Decimal | None = None
        noise = learning.noise_kg if learning.noise_kg is not None else float(s.noise_kg)
        self._noise_var = noise * noise
        self._noise_known = noise
        self._sigma_seen: float | None = None
        self._still_kg = float(start_kg)  # the reading while nothing flowed
        self.released_at = released_at
        self.flowing_since: float | None = None
        self._valve_closed_seen_at = released_at
        self._valve_open: bool | None = None
        self._prev: tuple[float, Decimal] | None = None  # the previous sample (at, raw reading)
        self._prev_received = released_at  # when its reply came
        self._step: Decimal | None = None  # the previous sample's change
        self._seconds: deque[float] = deque(maxlen=64)  # |second differences| of moving readings
        self._interval = 0.05  # between samples (averaged)
        self._ref: tuple[float, float] = (released_at, self._still_kg)  # last change (from, kg)
        self._repeats = 0  # indicator updates in a row that showed the last changed value again
        self._counted_received = released_at  # the reply of the last reading counted (a change, a repeat)
        self._moving: deque[tuple[float, float]] = deque(maxlen=12)  # the last samples that moved
        self._last_sample_at = released_at
        self._window: deque[tuple[float, float]] = deque()
        self._bad_rates = 0
        self._first: tuple[float, float] | None = None  # for learning: the first full window's start
        self._last: tuple[float, float] | None = None
        self._peak = 0.0
        self.tripped: str | None = None  # which rule ended the fill (for the alarm text)

    # ------------------------------------------------------------------ inputs
    def valve(self, at: float, feedback_open: bool) -> None:
        """The valve's position switch: open means gas may flow from the last time it was closed;
        closed means nothing flows, until the switch or a rising reading says it does."""
        self._valve_open = feedback_open
        if not feedback_open:
            self._valve_closed_seen_at = at
            self.flowing_since = None
            self._still_kg = float(self._prev[1]) if self._prev is not None else self._still_kg
        elif self.flowing_since is None:
            self.flowing_since = self._valve_closed_seen_at

    def sample(self, at: float, gross_kg: Decimal, received_at: float | None = None) -> Reason | None:
        """A poll sent at `at` whose reply came at `received_at`: the reading was taken in between."""
        kg = float(gross_kg)
        prev = self._prev
        self._prev, self._prev_received = (at, gross_kg), at if received_at is None else received_at
        self._last_sample_at = at
        if prev is not None:
            self._interval += 0.1 * (min(at - prev[0], 1.0) - self._interval)
            self._learn_reading(prev[1], gross_kg)
            if gross_kg != prev[1]:
                self._ref, self._repeats = (prev[0], kg), 0  # moved: reached at the earliest then
                self._counted_received = self._prev_received
                self._moving.append((at, kg))
            elif at - self._counted_received >= self.settings.update_s:
                # A repeat only when the indicator has surely updated since the last reading counted:
                # from that reading's reply (a late reply may carry a reading as recent as this
                # one's) to the sending of this poll, at least its update period.
                self._repeats += 1
                self._counted_received = self._prev_received
        if self.flowing_since is None and kg > self._still_kg + max(3 * float(self._division), 0.02):
            self.flowing_since = prev[0] if prev is not None else self.released_at
        if self.flowing_since is None:
            return None  # nothing flows yet, as far as the scale and the valve's switch tell
        ref_at, ref_kg = self._ref
        since = at - max(ref_at, self.flowing_since)
        stale = self._repeats > 0 and self._chance_of_repeats(self._repeats) < self.settings.evidence
        if stale and (verdict := self._model(ref_kg, since)):
            return verdict
        valve_open = self._valve_open is not False
        if stale and valve_open and at - self.flowing_since >= self.settings.start_s:
            return self._trip("stopped")
        return self._rate(at, kg, valve_open)

    def time(self, now: float) -> bool:
        """No sample for a while: whether the model alone says the valve must close now (the cut-off
        point or the cap reached). Not a reading that lied (none came, which a loaded machine's late
        poll does too): the station's model cuts the fill off, and the re-weigh judges it."""
        if self.flowing_since is None or now - self._last_sample_at < self.settings.late_s:
            return False
        ref_at, ref_kg = self._ref
        since = now - max(ref_at, self.flowing_since)
        return ref_kg + self.flow * since >= self.cut_off_kg or ref_kg + self.fastest * since >= self.max_kg

    # ------------------------------------------------------------------ what the fill taught
    def measure(self) -> FlowMeasure | None:
        """What this fill's credible readings showed (None: too short, or the guard tripped)."""
        if self._first is None or self._last is None or self.tripped is not None:
            return None
        (t0, m0), (t1, m1) = self._first, self._last
        if t1 - t0 < self.settings.rate_window_s or m1 <= m0:
            return None
        noise = None if self._sigma_seen is None else round(self._sigma_seen, 6)
        return FlowMeasure((m1 - m0) / (t1 - t0), self._peak, self._division_seen, noise)

    # ------------------------------------------------------------------ the rules
    def _model(self, ref_kg: float, since: float) -> Reason | None:
        if ref_kg + self.flow * since >= self.cut_off_kg:
            return self._trip("dead_reckoning")
        if ref_kg + self.fastest * since >= self.max_kg:
            return self._trip("time_cap")
        return None

    def _chance_of_repeats(self, repeats: int) -> float:
        """How likely a live reading, moving at the slowest plausible flow, shows one value on
        `repeats` + 1 polls in a row: each poll's true mass must read within half a division of
        that value (best placed: at the middle of the run), given the indicator's noise."""
        half = float(self._division_now()) / 2
        sigma = math.sqrt(self._noise_var)
        move = self._slowest_now() * self._interval
        chance, best = 1.0, 0.0
        for j in range(repeats + 1):
            off = move * (j - repeats / 2)
            p = _in_band(-half - off, half - off, sigma)
            chance *= p
            best = max(best, p)
        return chance / best if best > 0 else 0.0  # (one poll of the run is the value itself)

    def _slowest_now(self) -> float:
        """The slowest flow plausible now: the station's, or a fraction of what this fill's moving
        readings just showed (a flow does not fall to a trickle between two polls unless the valve
        closes, and the switch would say so). Only readings that moved count: repeats must not
        lower the bar they are judged by."""
        moving = self._moving
        if len(moving) < 6 or moving[-1][0] - moving[0][0] < 0.25:
            return self.slowest
        return max(self.slowest, self.settings.steady * _slope(moving))

    def _learn_reading(self, before: Decimal, after: Decimal) -> None:
        """The indicator's division (the gcd of the steps) and noise (from the steps' changes: a
        ramp's second differences are its noise alone, variance 6 sigma²), from readings that move
        (a frozen reading teaches nothing, least of all that the indicator is quiet)."""
        step = after - before
        if step == 0:
            return
        size = abs(step)
        self._division_seen = size if self._division_seen is None else _gcd(self._division_seen, size)
        if self._step is not None:
            self._seconds.append(abs(float(step - self._step)))
            if len(self._seconds) >= 16:
                # The median absolute deviation (0.6745 sigma for a normal noise): robust to the
                # start's step and to a division's flicker. Never below what the station is known
                # to have: a noise taken too low (a run of smooth polls by chance) would make chance
                # repeats look like a frozen reading. The station learns a quieter indicator over
                # fills (`StationLearning.noise_kg`), not within one.
                sigma = statistics.median(self._seconds) / 0.6745 / math.sqrt(6)
                self._sigma_seen = sigma
                self._noise_var = max(sigma, self._noise_known) ** 2
        self._step = step

    def _division_now(self) -> Decimal:
        seen = self._division_seen
        return self._division if seen is None else min(seen, self._division)

    def _rate(self, at: float, kg: float, valve_open: bool) -> Reason | None:
        assert self.flowing_since is not None
        s, window = self.settings, self._window
        window.append((at, kg))
        while len(window) > 2 and window[1][0] <= at - s.rate_window_s:
            window.popleft()
        t0, m0 = window[0]
        if t0 < self.flowing_since + 0.1 or at - t0 < s.rate_window_s * 0.9 or len(window) < 4:
            return None  # the window is not full yet, or holds the start
        rate = (kg - m0) / (at - t0)
        self._first = self._first or (t0, m0)
        self._last = (at, kg)
        self._peak = max(self._peak, rate)
        too_slow = valve_open and rate < self.slowest
        too_fast = rate > self.fastest * s.rate_high
        self._bad_rates = self._bad_rates + 1 if too_slow or too_fast else 0
        if self._bad_rates >= s.rate_samples:
            return self._trip("rate_low" if too_slow else "rate_high")
        return None

    def _trip(self, rule: str) -> Reason:
        self.tripped = rule
        return Reason.FILL_READING_NOT_CREDIBLE
