"""The device fault matrix (issues #9 and #6) as generated scenario files for `fillfloor sim`.

Every fault kind of docs/scenarios.md that applies to a device (scale: disconnect, freeze, garbage,
crash; valve: the same and stuck_open; scanner: disconnect, freeze, garbage, crash) in each of the
phases idle, awaiting_precheck and filling: 13 × 3 = 39 cases. Each case gets its own station, and
one scenario file a phase runs its 13 cases side by side with a fault-free control station, so one
run covers many cases and shows that a fault stays with its station. The script of a phase file:

1. every station is brought into the phase (login, cylinder A placed; scanned; checked),
2. each case's fault is injected at its own offset inside the phase, for its own duration,
3. after the last fault has ended, maintenance restarts the stations whose actor was crashing
   (as it would one that gave up), and the course goes on: A's check or scan arrives, A fills
   where it still can, is checked, lifted off;
4. a second cylinder B goes through a whole course at every station: the station recovered.

`platform_scenario` adds the city platform's outages (down, error_5xx, drop_response, slow), one a
round of fills at three stations, one fill of them aborted by a device fault, then `wait_sync`.
`frozen_scale_scenario` freezes the scale late in a fill (the indicator's own cut-off frozen too)
in both cut-off modes, over several models and flows, at stations that learned from a first fill.

The seed varies the timings reproducibly (each fault's start offset inside its phase and its
duration, the tares); `simulator.history_check` judges a run's events. Run as
`python -m simulator.fault_matrix --out DIR [--protocol tcp|rtu|mixed] [--seed N]`.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from domain.models import DEFAULT_MODELS
from simulator.faults import APPLICABLE, DEVICES
from simulator.scenario_toml import scenario_toml

__all__ = [
    "PHASES",
    "PLATFORM_MODES",
    "PROTOCOLS",
    "Case",
    "Generated",
    "frozen_scale_scenario",
    "generate",
    "main",
    "matrix",
    "phase_scenario",
    "platform_scenario",
]  # fmt: skip

PHASES = ("idle", "awaiting_precheck", "filling")
PROTOCOLS = ("tcp", "rtu", "mixed")
PLATFORM_MODES = ("down", "error_5xx", "drop_response", "slow")
OPERATOR = "OP01"
CONTROL = "K"  # the fault-free station of each phase file
# Short station names: ids are at most 16 characters (docs/scenarios.md station id pattern).
_PHASE_TAG = {"idle": "I", "awaiting_precheck": "A", "filling": "F"}
_KIND_TAG = {"disconnect": "disc", "freeze": "frz", "garbage": "garb", "stuck_open": "stuck",
             "crash": "crash"}  # fmt: skip

# Timings (seconds; flows kg/s). A YSP35.5 takes ~14.3 kg: ~9.5 s at 1.5 kg/s, long enough for a
# fault to land inside the fill at any offset drawn below on a loaded 2-core machine. Where the
# faults come before the fills, the fills may be quicker (the run is shorter).
_FLOW = {"idle": 2.5, "awaiting_precheck": 2.5, "filling": 1.5}
_PLATFORM_FLOW = 3.0
_FILL_S = 14.5 / _FLOW["filling"]
_OFFSET_S = {"idle": (0.2, 3.0), "awaiting_precheck": (0.2, 3.0), "filling": (0.5, 3.0)}
_DURATION_S = (1.5, 5.0)
_STUCK_PAST_CUT_OFF_S = 4.0  # a valve stuck open in a fill must still be stuck when the fill is cut off
_RECOVERY_S = 2.0  # after the last fault: the devices answer again, the actors reconnect
_WAIT_S = 20.0
_FILL_WAIT_S = 60.0
_TARES = {"YSP4.7": 4.6, "YSP12": 9.8, "YSP35.5": 15.0}
# The frozen-scale file: (model, flow) at each cut-off mode, the freeze late in the second fill. The
# host cuts off from its 20 Hz samples, so its fills run slower where the margin above the target is
# small (YSP12: 0.2 kg, YSP4.7: 0.1 kg): a loaded machine delays a sample by 100 ms and more, which
# at 2 kg/s is past a YSP12's maximum, frozen scale or not (the indicator cuts off at its own A/D).
_FROZEN = {
    "indicator": (("YSP35.5", 1.0), ("YSP35.5", 2.0), ("YSP12", 2.0), ("YSP4.7", 1.0)),
    "host": (("YSP35.5", 1.0), ("YSP35.5", 2.0), ("YSP12", 0.5), ("YSP4.7", 0.25)),
}
_FROZEN_AT = (0.6, 0.95)  # of the fill's time (the "filling" state begins before the valve opens)
_FROZEN_S = 8.0  # past the no-flow window (5 s): the guard, not the last line, must end the fill


@frozen
class Case:
    """One cell of the matrix: `kind` on `device` while the station is in `phase`."""

    device: str
    kind: str
    phase: str

    @property
    def name(self) -> str:
        return f"{self.device}.{self.kind}@{self.phase}"

    @property
    def station(self) -> str:
        return f"{_PHASE_TAG[self.phase]}-{self.device}-{_KIND_TAG[self.kind]}"


@frozen
class Generated:
    """A written scenario file, what it is (a phase, `platform` or `frozen_scale`), its cases."""

    path: Path
    cases: tuple[Case, ...]
    what: str = ""


def matrix() -> tuple[Case, ...]:
    """The 39 cases, in a stable order."""
    return tuple(
        Case(device, kind, phase)
        for phase in PHASES
        for device in DEVICES
        for kind in sorted(APPLICABLE[device])
    )


def _protocol(protocol: str, index: int) -> str:
    if protocol == "mixed":  # alternate, shifted per file, so each case runs on both across phases
        return ("tcp", "rtu")[index % 2]
    return protocol


class _Floor:
    """The document under construction: stations with their cylinders, then the script."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cylinders: list[dict[str, Any]] = []
        self.stations: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.tare: dict[str, float] = {}

    def station(self, sid: str, protocol: str, flow: float, cutoff: str = "indicator") -> None:
        self.stations.append({"id": sid, "flow_kg_s": flow, "valve_delay_ms": 150, "scale_noise_g": 5,
                              "protocol": protocol, "cutoff": cutoff})  # fmt: skip

    def cylinder(self, model: str = "YSP35.5") -> str:
        code = f"HY0012{len(self.cylinders) + 1:07d}"
        tare = round(_TARES[model] + self.rng.uniform(-0.3, 0.3), 2)
        self.tare[code] = tare
        self.cylinders.append({"code": code, "owner": "HY0012", "model": model, "tare_kg": tare,
                               "manufactured": "2021-03-01", "last_inspection": "2025-03-01"})  # fmt: skip
        return code

    def step(self, do: str, **fields: Any) -> None:
        self.steps.append({"do": do, **fields})

    def course_start(self, stations: Sequence[str], cylinder: dict[str, str], *, check: bool = True,
                     place: bool = True, scan: bool = True) -> None:  # fmt: skip
        """A check, the cylinder on the scale (tare + a little residue) and its label scanned."""
        for sid in stations:
            if check:
                self.step("precheck", station=sid, cylinder=cylinder[sid], result="pass")
            if place:
                self.step("place", station=sid, cylinder=cylinder[sid],
                          gross_kg=round(self.tare[cylinder[sid]] + 0.2, 3))  # fmt: skip
        if scan:
            for sid in stations:
                self.step("scan", station=sid, text=cylinder[sid])

    def wait_each(self, stations: Sequence[str], what: str, timeout_s: float) -> None:
        for sid in stations:
            self.step("wait", station=sid, timeout_s=timeout_s, **{"for": what})

    def course_end(self, stations: Sequence[str], cylinder: dict[str, str]) -> None:
        """The post-fill check, then the cylinder lifted off; the station returns to idle."""
        for sid in stations:
            self.step("postcheck", station=sid, cylinder=cylinder[sid], result="pass")
        for sid in stations:
            self.step("remove", station=sid)
        self.wait_each(stations, "state:idle", _WAIT_S)

    def document(self, platform: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {"today": "2026-11-23", "unit": {"code": "HY0012", "short_name": "衡阳燃气"}}
        if platform:
            doc["platform"] = {"embedded": True, "sync_interval_s": 0.5}
        doc["operator"] = [{"id": OPERATOR, "name": "张三", "certificate_expires": "2027-06-30"}]
        doc["cylinder"] = self.cylinders
        doc["station"] = self.stations
        doc["step"] = self.steps
        return doc


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"fault-matrix:{seed}:{name}")  # (a str seed is stable across runs)


def phase_scenario(phase: str, cases: Sequence[Case], *, seed: int, protocol: str) -> dict[str, Any]:
    """One phase's cases side by side, each on its own station, with the fault-free control."""
    if phase not in PHASES or any(c.phase != phase for c in cases):
        raise ValueError(f"cases of phase {phase!r} only")
    rng = _rng(seed, phase)
    floor = _Floor(rng)
    shift = PHASES.index(phase)
    stations = [c.station for c in cases] + [CONTROL]
    for i, sid in enumerate(stations):
        floor.station(sid, _protocol(protocol, i + shift), _FLOW[phase])
    a = {sid: floor.cylinder() for sid in stations}
    b = {sid: floor.cylinder() for sid in stations}

    for sid in stations:
        floor.step("login", station=sid, operator=OPERATOR)
    # 1. Into the phase. idle: a cylinder stands on the scale, not scanned yet.
    if phase == "idle":
        floor.course_start(stations, a, check=False, scan=False)
    elif phase == "awaiting_precheck":
        floor.course_start(stations, a, check=False)
        floor.wait_each(stations, "state:awaiting_precheck", _WAIT_S)
    else:
        floor.course_start(stations, a)
        floor.wait_each(stations, "state:filling", _WAIT_S)

    # 2. The faults, each at its offset inside the phase, for its duration.
    plan = []
    for case in cases:
        offset = rng.uniform(*_OFFSET_S[phase])
        seconds = rng.uniform(*_DURATION_S)
        if case.kind == "stuck_open" and phase == "filling":
            seconds = max(seconds, _FILL_S + _STUCK_PAST_CUT_OFF_S - offset)
        plan.append((round(offset, 2), case, round(seconds, 2)))
    plan.sort(key=lambda p: p[0])
    at = 0.0
    for offset, case, seconds in plan:
        if offset > at:
            floor.step("sleep", seconds=round(offset - at, 2))
            at = offset
        floor.step("fault", station=case.station, device=case.device, kind=case.kind, seconds=seconds)
    last_end = max(offset + seconds for offset, _, seconds in plan)
    floor.step("sleep", seconds=round(last_end - at + _RECOVERY_S, 2))

    # 3. Maintenance brings back what gave up; the course goes on with cylinder A.
    for case in cases:
        if case.kind == "crash":
            floor.step("restart", actor=case.station)
    if phase == "idle":
        floor.course_start(stations, a, place=False)
    elif phase == "awaiting_precheck":
        floor.course_start(stations, a, place=False, scan=False)
    # The control's fill ends when every station that could still fill A has (same flow, same start).
    floor.step("wait", station=CONTROL, timeout_s=_FILL_WAIT_S, **{"for": "state:awaiting_postcheck"})
    floor.step("sleep", seconds=_RECOVERY_S)
    floor.course_end(stations, a)

    # 4. A whole course with cylinder B at every station.
    floor.course_start(stations, b)
    floor.wait_each(stations, "state:awaiting_postcheck", _FILL_WAIT_S)
    floor.course_end(stations, b)
    return floor.document()


def platform_scenario(*, seed: int, protocol: str) -> dict[str, Any]:
    """The platform down, answering 5xx, losing replies, slow: one mode a round of fills at three
    stations; in one round (seeded) a device fault aborts a fill, whose record must get up too."""
    rng = _rng(seed, "platform")
    floor = _Floor(rng)
    stations = ["P1", "P2", "P3"]
    for i, sid in enumerate(stations):
        floor.station(sid, _protocol(protocol, i), _PLATFORM_FLOW)
    faulted, fault_round = rng.choice(stations), rng.randrange(len(PLATFORM_MODES))
    device, kind = rng.choice([("scale", "disconnect"), ("valve", "disconnect"), ("scale", "garbage"),
                               ("valve", "garbage")])  # fmt: skip
    for sid in stations:
        floor.step("login", station=sid, operator=OPERATOR)
    floor.step("wait_sync", timeout_s=_WAIT_S)
    for round_, mode in enumerate(PLATFORM_MODES):
        cylinder = {sid: floor.cylinder() for sid in stations}
        floor.step("platform", mode=mode, seconds=round(rng.uniform(3.0, 8.0), 2))
        floor.course_start(stations, cylinder)
        if round_ == fault_round:
            floor.step("wait", station=faulted, timeout_s=_WAIT_S, **{"for": "state:filling"})
            floor.step("sleep", seconds=round(rng.uniform(0.5, 2.0), 2))
            floor.step("fault", station=faulted, device=device, kind=kind,
                       seconds=round(rng.uniform(*_DURATION_S), 2))  # fmt: skip
        floor.wait_each(stations, "state:awaiting_postcheck", _FILL_WAIT_S)
        floor.step("sleep", seconds=_RECOVERY_S)
        floor.course_end(stations, cylinder)
    floor.step("platform", mode="up")
    floor.step("wait_sync", timeout_s=_FILL_WAIT_S)
    return floor.document(platform=True)


def frozen_scale_scenario(*, seed: int, protocol: str) -> dict[str, Any]:
    """The scale frozen late in a fill (`fill.reading_not_credible`, never above the maximum), in
    both cut-off modes at several models and flows: each station fills once to learn its flow, then
    its indicator freezes at a seeded moment late in the second fill, for longer than the no-flow
    window; once it answers again, a third fill shows the station recovered."""
    rng = _rng(seed, "frozen_scale")
    floor = _Floor(rng)
    stations: dict[str, tuple[str, float]] = {}
    for i, (cutoff, (model, flow)) in enumerate((c, mf) for c, mfs in _FROZEN.items() for mf in mfs):
        sid = f"Z{i + 1}-{cutoff[0].upper()}-{model.removeprefix('YSP').replace('.', '_')}"
        stations[sid] = (model, flow)
        floor.station(sid, _protocol(protocol, i), flow, cutoff)
    floor.station(CONTROL, _protocol(protocol, len(stations)), 2.0)
    names = [*stations, CONTROL]
    models = {**{sid: m for sid, (m, _) in stations.items()}, CONTROL: "YSP35.5"}
    for sid in names:
        floor.step("login", station=sid, operator=OPERATOR)
    for course in range(3):
        cylinder = {sid: floor.cylinder(models[sid]) for sid in names}
        floor.course_start(names, cylinder)
        if course == 1:  # the freezes, each late in its station's fill
            floor.wait_each(names, "state:filling", _WAIT_S)
            plan = sorted(
                (round(rng.uniform(*_FROZEN_AT) * float(DEFAULT_MODELS[m].rated_net_kg) / f, 2), sid)
                for sid, (m, f) in stations.items()
            )
            at = 0.0
            for offset, sid in plan:
                if offset > at:
                    floor.step("sleep", seconds=round(offset - at, 2))
                    at = offset
                floor.step("fault", station=sid, device="scale", kind="freeze", seconds=_FROZEN_S)
            floor.step("sleep", seconds=round(_FROZEN_S + _RECOVERY_S, 2))
        floor.wait_each(names, "state:awaiting_postcheck", _FILL_WAIT_S)
        floor.course_end(names, cylinder)
    return floor.document()


def _header(what: str, seed: int, protocol: str) -> list[str]:
    return [
        f"Generated by simulator.fault_matrix (seed {seed}, protocol {protocol}): {what}.",
        f"Again: python -m simulator.fault_matrix --out DIR --seed {seed} --protocol {protocol}",
        "Run: fillfloor sim THIS.toml --events OUT.jsonl",
        "Judge: python -m simulator.history_check THIS.toml OUT.jsonl",
    ]


def generate(out: Path, *, seed: int = 1, protocol: str = "mixed") -> list[Generated]:
    """Write the three phase files and the platform file into `out`; return them with their cases."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for phase in PHASES:
        cases = tuple(c for c in matrix() if c.phase == phase)
        path = out / f"faults-{phase}-s{seed}-{protocol}.toml"
        doc = phase_scenario(phase, cases, seed=seed, protocol=protocol)
        header = _header(f"every device fault during {phase}, one station a case, control station {CONTROL}",
                         seed, protocol)  # fmt: skip
        path.write_text(scenario_toml(doc, header), encoding="utf-8")
        written.append(Generated(path, cases, phase))
    path = out / f"platform-outages-s{seed}-{protocol}.toml"
    doc = platform_scenario(seed=seed, protocol=protocol)
    header = _header("platform outages during fills", seed, protocol)
    path.write_text(scenario_toml(doc, header), encoding="utf-8")
    written.append(Generated(path, (), "platform"))
    path = out / f"frozen-scale-s{seed}-{protocol}.toml"
    doc = frozen_scale_scenario(seed=seed, protocol=protocol)
    header = _header("the scale frozen late in a fill, both cut-off modes, several models and flows",
                     seed, protocol)  # fmt: skip
    path.write_text(scenario_toml(doc, header), encoding="utf-8")
    written.append(Generated(path, (), "frozen_scale"))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.fault_matrix",
                                     description="Write the fault matrix as scenario files.")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="folder for the scenario files")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="mixed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for g in generate(args.out, seed=args.seed, protocol=args.protocol):
        print(f"{g.path}\t{len(g.cases)} cases" if g.cases else f"{g.path}\t{g.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
