"""A pure model of one filling station: the cylinder on the scale, the weighing indicator, the valve.

No I/O and no clock of its own: `tick(dt)` advances model time by exactly `dt` seconds, so tests
drive it step by step and the Modbus front (`modbus_devices`) drives it from real time. Inside a
tick the model steps from event to event (A/D samples, valve transitions, the watchdog deadline,
the settle deadline), so results do not depend on how the caller slices time.

What is modelled, and why:
- The indicator samples at its own A/D rate; the reading is the mass plus reading noise plus a
  decaying swing after a cylinder is placed or lifted (a real scale rings for a while).
- Fill mode (docs/station.md, "Fill control"): the indicator switches its fill output off at the first A/D
  sample that reads ≥ target − preact. It sees only its own readings, so a frozen A/D never cuts off.
- The valve is normally closed: physically open only while permitted AND (cutoff = host, or the
  indicator's fill output is on); it follows its command after the actuation delay.
- The valve device's watchdog drops the permit when the heartbeat has not changed within its period.
- Faults that live in the device itself: a frozen A/D, a valve that ignores commands, a valve stuck
  open (ignores close and the watchdog, feedback shows open).
- The mass in a cylinder is capped at its water capacity, so a runaway fill is visible as such.
"""

from __future__ import annotations

import math
import random
from collections import deque

from attrs import frozen

from simulator.ground_truth import GroundTruthEvent, GroundTruthSink, SimMass, SimValve

__all__ = [
    "DEFAULT_CAPACITY_KG",
    "FILL_ABORTED",
    "FILL_CUT_OFF",
    "FILL_FILLING",
    "FILL_IDLE",
    "STATUS_ERROR",
    "STATUS_FILL_ACTIVE",
    "STATUS_FILL_DONE",
    "STATUS_OVERLOAD",
    "STATUS_STABLE",
    "ScaleView",
    "SimulatedStation",
    "ValveView",
    "liquid_full_kg",
]

# Status bits of the indicator (docs/devices.md, scale register 2).
STATUS_STABLE = 1 << 0
STATUS_OVERLOAD = 1 << 1
STATUS_ERROR = 1 << 2
STATUS_FILL_ACTIVE = 1 << 3
STATUS_FILL_DONE = 1 << 4

# Fill-mode states (scale register 15).
FILL_IDLE = 0
FILL_FILLING = 1
FILL_CUT_OFF = 2
FILL_ABORTED = 3

# Liquid LPG weighs ~0.53 kg/L at 15-20 °C: a cylinder filled liquid-full holds its water volume
# times that, and flow stops there (a runaway fill shows as such, whatever the model).
LPG_LIQUID_KG_PER_L = 0.53


def liquid_full_kg(water_volume_l: float) -> float:
    """The LPG a cylinder of this water volume holds filled liquid-full."""
    return round(water_volume_l * LPG_LIQUID_KG_PER_L, 3)


# A YSP35.5's (35.5 L): for a cylinder of no known model.
DEFAULT_CAPACITY_KG = liquid_full_kg(35.5)

_EPS = 1e-9


@frozen
class ScaleView:
    """What the indicator shows: gross in grams (as its register holds it), status bits, fill state."""

    gross_g: int
    status: int
    fill_state: int

    @property
    def stable(self) -> bool:
        return bool(self.status & STATUS_STABLE)


@frozen
class ValveView:
    """What the valve device shows: the permit (after the watchdog) and the position switch."""

    permit: bool
    feedback_open: bool


class _Load:
    """A cylinder on (or recently on) the scale. Mutable: flow adds to it."""

    __slots__ = ("cap_kg", "cylinder", "mass_kg")

    def __init__(self, cylinder: str, mass_kg: float, cap_kg: float) -> None:
        self.cylinder = cylinder
        self.mass_kg = mass_kg
        self.cap_kg = cap_kg


class SimulatedStation:
    """The physics of one station; see the module docstring. All times are model seconds."""

    def __init__(
        self,
        station_id: str,
        flow_kg_s: float,
        valve_delay_ms: float,
        noise_g: float = 0.0,
        cutoff: str = "indicator",
        seed: int = 0,
        *,
        ad_rate_hz: float = 100.0,
        watchdog_ms: int = 500,
        swing_kg: float = 0.5,
        settle_s: float = 0.6,
        stable_window_s: float = 0.3,
        stable_band_kg: float = 0.02,
        mass_settle_s: float = 0.5,
        max_kg: float = 150.0,
        on_event: GroundTruthSink | None = None,
    ) -> None:
        if cutoff not in ("indicator", "host"):
            raise ValueError(f"cutoff must be 'indicator' or 'host', not {cutoff!r}")
        if flow_kg_s <= 0 or valve_delay_ms < 0 or noise_g < 0 or ad_rate_hz <= 0:
            raise ValueError("flow_kg_s and ad_rate_hz must be > 0; valve_delay_ms and noise_g ≥ 0")
        self.station_id = station_id
        self.flow_kg_s = flow_kg_s
        self.valve_delay_s = valve_delay_ms / 1000.0
        self.noise_kg = noise_g / 1000.0
        self.cutoff = cutoff
        self.ad_period_s = 1.0 / ad_rate_hz
        self.swing_kg = swing_kg
        self.settle_s = settle_s
        self.stable_window_s = stable_window_s
        self.stable_band_kg = stable_band_kg
        self.mass_settle_s = mass_settle_s
        self.max_kg = max_kg
        self.on_event = on_event
        self._rng = random.Random(seed)

        self._t = 0.0
        self._load: _Load | None = None
        self._disturbed_at = -math.inf
        # Indicator
        self._ad_index = 0
        self._reading_kg = 0.0
        self._window: deque[tuple[float, float]] = deque()
        self._stable = True
        self._target_kg = 0.0
        self._preact_kg = 0.0
        self._fill_cmd = 0
        self._fill_state = FILL_IDLE
        self._fill_output = False
        self.ad_frozen = False
        # Valve
        self._permit = False
        self._heartbeat = 0
        self._heartbeat_at = 0.0
        self._watchdog_s = watchdog_ms / 1000.0
        self._open = False
        self._pending: tuple[bool, float] | None = None  # (state to reach, at time)
        self._episode: _Load | None = None  # the load being filled since the valve opened
        self._mass_due: float | None = None
        self.valve_ignores_commands = False
        self._stuck_open = False
        # The latest ground truth, for tests and debugging; the sink gets every event.
        self.events: deque[GroundTruthEvent] = deque(maxlen=256)

    # ----------------------------------------------------------------- the world (scenario steps)
    @property
    def now(self) -> float:
        return self._t

    def place(self, cylinder: str, gross_kg: float, capacity_kg: float = DEFAULT_CAPACITY_KG) -> None:
        """Put a cylinder weighing `gross_kg` (tare + residual) on the scale; it can take `capacity_kg`."""
        if not math.isfinite(gross_kg) or gross_kg < 0 or capacity_kg < 0:
            raise ValueError("gross_kg and capacity_kg must be finite and ≥ 0")
        self._load = _Load(cylinder, gross_kg, gross_kg + capacity_kg)
        self._disturbed_at = self._t

    def remove(self) -> None:
        """Lift the cylinder off the scale (also while filling: the gas then goes to the air)."""
        if self._load is not None:
            self._load = None
            self._disturbed_at = self._t

    @property
    def cylinder(self) -> str | None:
        return self._load.cylinder if self._load else None

    @property
    def mass_kg(self) -> float:
        """The true gross mass on the scale (no noise, no swing)."""
        return self._load.mass_kg if self._load else 0.0

    # ------------------------------------------------------------------------- faults in devices
    @property
    def stuck_open(self) -> bool:
        return self._stuck_open

    @stuck_open.setter
    def stuck_open(self, value: bool) -> None:
        self._stuck_open = value
        self._steer_valve()

    # ---------------------------------------------------------------- host writes (over Modbus)
    def write_target(self, target_kg: float) -> None:
        self._target_kg = target_kg

    def write_preact(self, preact_kg: float) -> None:
        self._preact_kg = preact_kg

    def write_fill_cmd(self, cmd: int) -> None:
        """1 starts a fill (on the 0 → 1 edge); 0 aborts a running fill or acknowledges a finished one."""
        previous, self._fill_cmd = self._fill_cmd, cmd
        if cmd == previous:
            return
        if cmd == 1:
            self._fill_state = FILL_FILLING
            self._fill_output = True
            # The cut-off is checked against the indicator's own latest sample, at its next A/D step.
        elif self._fill_state == FILL_FILLING:
            self._fill_state = FILL_ABORTED
            self._fill_output = False
        elif self._fill_state == FILL_CUT_OFF:
            self._fill_state = FILL_IDLE
        self._steer_valve()

    def write_permit(self, permit: bool) -> None:
        if self.valve_ignores_commands:
            return
        self._permit = permit
        self._check_watchdog()
        self._steer_valve()

    def write_heartbeat(self, value: int) -> None:
        if self.valve_ignores_commands:
            return
        if value != self._heartbeat:
            self._heartbeat = value
            self._heartbeat_at = self._t

    def write_watchdog_ms(self, ms: int) -> None:
        """0 disables the watchdog (a commissioning setting, never the default)."""
        if self.valve_ignores_commands:
            return
        self._watchdog_s = max(0, ms) / 1000.0

    @property
    def target_kg(self) -> float:
        return self._target_kg

    @property
    def preact_kg(self) -> float:
        return self._preact_kg

    @property
    def fill_cmd(self) -> int:
        return self._fill_cmd

    @property
    def heartbeat(self) -> int:
        return self._heartbeat

    @property
    def watchdog_ms(self) -> int:
        return round(self._watchdog_s * 1000)

    # ----------------------------------------------------------------------------- what is read
    def scale_view(self) -> ScaleView:
        status = 0
        if self._stable:
            status |= STATUS_STABLE
        if self._reading_kg > self.max_kg:
            status |= STATUS_OVERLOAD
        if self._fill_state == FILL_FILLING:
            status |= STATUS_FILL_ACTIVE
        if self._fill_state == FILL_CUT_OFF:
            status |= STATUS_FILL_DONE
        return ScaleView(round(self._reading_kg * 1000), status, self._fill_state)

    def valve_view(self) -> ValveView:
        return ValveView(self._permit, self._open)

    @property
    def valve_open(self) -> bool:
        """The physical valve position (ground truth)."""
        return self._open

    @property
    def fill_output(self) -> bool:
        return self._fill_output

    # ------------------------------------------------------------------------------------ time
    def tick(self, dt: float) -> None:
        """Advance model time by `dt` seconds, visiting every event inside in time order."""
        if dt < 0:
            raise ValueError("time runs forward")
        end = self._t + dt
        while True:
            next_ad = (self._ad_index + 1) * self.ad_period_s
            candidates = [end, next_ad]
            if self._pending is not None:
                candidates.append(self._pending[1])
            if self._permit and self._watchdog_s > 0:
                candidates.append(self._heartbeat_at + self._watchdog_s)
            if self._mass_due is not None:
                candidates.append(self._mass_due)
            step_to = max(self._t, min(candidates))
            self._flow_until(step_to)
            self._t = step_to
            if self._pending is not None and self._pending[1] <= self._t + _EPS:
                self._move_valve(self._pending[0])
            self._check_watchdog()
            if next_ad <= self._t + _EPS:
                self._ad_index += 1
                self._sample()
            if self._mass_due is not None and self._mass_due <= self._t + _EPS:
                self._report_mass()
            if step_to >= end - _EPS:
                self._t = end
                return

    def _flow_until(self, t: float) -> None:
        if not self._open or t <= self._t:
            return
        if self._load is not None:
            self._load.mass_kg = min(self._load.cap_kg, self._load.mass_kg + self.flow_kg_s * (t - self._t))
            self._episode = self._load

    def _clean_reading(self) -> float:
        """Mass plus the swing after a placement or removal (what a noise-free A/D would read)."""
        since = self._t - self._disturbed_at
        swing = 0.0
        if 0 <= since < self.settle_s:
            # A damped ~3 Hz swing that is over after settle_s.
            swing = self.swing_kg * (1 - since / self.settle_s) * math.sin(2 * math.pi * 3.0 * since + 0.5)
        return self.mass_kg + swing

    def _sample(self) -> None:
        if self.ad_frozen:
            # A frozen converter delivers the same value: the indicator (and its cut-off) sees nothing new.
            self._cut_off_if_due()
            return
        clean = self._clean_reading()
        noise = self._rng.gauss(0.0, self.noise_kg) if self.noise_kg > 0 else 0.0
        self._reading_kg = round(clean + noise, 3)
        # Motion detection on the noise-free signal: stable when the window spans ≤ the band.
        self._window.append((self._t, clean))
        while self._window and self._window[0][0] < self._t - self.stable_window_s - _EPS:
            self._window.popleft()
        values = [v for _, v in self._window]
        self._stable = (
            self._t - self._disturbed_at >= self.settle_s and max(values) - min(values) <= self.stable_band_kg
        )
        self._cut_off_if_due()

    def _cut_off_if_due(self) -> None:
        if self._fill_state == FILL_FILLING and self._reading_kg >= self._target_kg - self._preact_kg - _EPS:
            self._fill_state = FILL_CUT_OFF
            self._fill_output = False
            self._steer_valve()

    def _check_watchdog(self) -> None:
        if self._permit and self._watchdog_s > 0 and self._t - self._heartbeat_at >= self._watchdog_s - _EPS:
            self._permit = False
            self._steer_valve()

    # ---------------------------------------------------------------------------------- valve
    def _commanded_open(self) -> bool:
        return self._permit and (self.cutoff == "host" or self._fill_output)

    def _steer_valve(self) -> None:
        want = self._commanded_open() or (self._stuck_open and self._open)
        heading = self._pending[0] if self._pending is not None else self._open
        if want == heading:
            return
        if want == self._open:
            self._pending = None  # commanded back before the actuator moved
        else:
            self._pending = (want, self._t + self.valve_delay_s)
            if self.valve_delay_s == 0:
                self._move_valve(want)

    def _move_valve(self, open_: bool) -> None:
        self._pending = None
        if open_ == self._open:
            return
        self._open = open_
        if open_:
            self._episode = self._load
            self._mass_due = None
        else:
            self._mass_due = self._t + self.mass_settle_s
        self._emit(SimValve(self.station_id, open_, self._t))
        self._steer_valve()  # a stuck valve or a command that changed meanwhile

    def _report_mass(self) -> None:
        self._mass_due = None
        load = self._episode if self._episode is not None else self._load
        if load is None:
            self._emit(SimMass(self.station_id, None, 0.0, self._t))
        else:
            self._emit(SimMass(self.station_id, load.cylinder, round(load.mass_kg, 3), self._t))
        self._episode = None

    def _emit(self, event: GroundTruthEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
