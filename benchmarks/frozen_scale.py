"""Frozen scale: the worst ground-truth overfill when the indicator freezes late in a fill.

    python -m benchmarks.frozen_scale

A YSP35.5 (tare 15.2 kg, target 29.7 kg, legal maximum 30.1 kg) is filled from 15.5 kg on the
simulated station (100 Hz A/D, 150 ms valve, 5 g noise) polled at 20 Hz, in exact model time, at a
station that has learned from three normal fills. Its indicator's A/D then freezes at one of 21
moments spread over the last fifth of the fill (80 % to 100 % of its duration) and stays frozen:
the figure is the largest true mass in the cylinder over all of them, as kg above the legal
maximum (negative: below it). "guard off" is the same run with the fill guard's verdicts ignored,
which is how the floor filled before the guard (the no-flow window alone closed the valve).
Deterministic: model time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from domain.fill_guard import FillGuard
from domain.messages import CheckPhase
from simulator.model_rig import Rig
from supervisor.station.core import Phase

__all__ = ["NOTES", "run"]

MAX_GROSS = 15.2 + 14.9
NOTES = (
    "The guard closes the valve on the first poll that repeats the frozen value (the chance that "
    "a live reading would repeat it is judged against the station's flow and the indicator's noise), "
    "or when dead reckoning says the cut-off point is reached: the worst case is a freeze just "
    "before the cut-off, where the fill then ends about one poll of flow past its normal end. "
    "Without it the frozen indicator never cuts off (it sees its own frozen value) and the host "
    "sees no reason to: the fill runs until the cylinder is liquid-full (4.2 kg over the maximum; "
    "the same figure was measured on the code before the guard, commit 4369dc7) and the no-flow "
    "window (5 s) only then ends it."
)


@contextmanager
def _guard_ignored() -> Iterator[None]:
    sample, time = FillGuard.sample, FillGuard.time
    FillGuard.sample = lambda self, at, gross_kg, received_at=None: None  # type: ignore[method-assign]
    FillGuard.time = lambda self, now: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        FillGuard.sample, FillGuard.time = sample, time  # type: ignore[method-assign]


def _learned_rig(cutoff: str, flow: float) -> Rig:
    rig = Rig(cutoff=cutoff, flow_kg_s=flow, noise_g=5.0)
    for n in range(3):
        rig.ready_to_fill(gross_kg=15.5)
        rig.until(lambda n=n: len(rig.fills()) == n + 1, limit_s=600)
        rig.check(CheckPhase.POST)
        rig.sim.remove()
        rig.step(0.5)
    return rig


def _frozen_fill(cutoff: str, flow: float, at_fraction: float) -> float:
    """The largest true mass when the A/D freezes at that fraction of the fill and stays frozen."""
    rig = _learned_rig(cutoff, flow)
    rig.ready_to_fill(gross_kg=15.5)
    rig.until(lambda: rig.core.permit, limit_s=10)
    assert rig.core.fill is not None
    duration = (float(rig.core.fill.cut_off_at_kg) - 15.5) / flow + 0.15
    rig.step(round(at_fraction * duration / 0.05) * 0.05)
    if rig.core.phase == Phase.FILLING:
        rig.sim.ad_frozen = True
    rig.until(lambda: not rig.sim.valve_open and rig.core.phase != Phase.FILLING, limit_s=120)
    rig.step(1.0)
    return rig.max_mass


def _worst(cutoff: str, flow: float) -> float:
    return max(_frozen_fill(cutoff, flow, 0.80 + i * 0.01) for i in range(21)) - MAX_GROSS


def run() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for cutoff in ("indicator", "host"):
        for flow in (1.0, 2.0):
            with _guard_ignored():
                before = _worst(cutoff, flow)
            after = _worst(cutoff, flow)
            for label, value in (("guard off", before), ("guard on", after)):
                rows.append({
                    "name": f"late freeze, {cutoff} cut-off, {flow} kg/s, {label}: worst mass over maximum",
                    "value": value, "unit": "kg",
                    "note": f"YSP35.5, maximum {MAX_GROSS:.1f} kg gross, 21 freezes in the last fifth",
                })  # fmt: skip
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']}: {r['value']:+.3f} {r['unit']}")
