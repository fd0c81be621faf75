"""The device fault matrix end to end (issues #9 and #6): every fault kind of every device during
idle, awaiting_precheck and filling (39 cases), and the platform's outages, as generated scenarios
run by `fillfloor sim` as real processes over Modbus TCP and RTU (ptys), judged by
`simulator.history_check` (docs/fault-matrix.md).

`make test` runs one seed over a mix of TCP and RTU: the five files, side by side while the machine
has a core idle for another (tests/support/sim_run.py). `make faults-long` (`-m slow`) runs
`FAULT_SEEDS` seeds over TCP and over RTU. A failure names the invariant, the station, the case
and the event, and how to run it again.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from simulator.fault_matrix import PHASES, Case, Generated, generate, matrix
from simulator.history_check import check, fault_cases
from simulator.scenario import load_scenario
from tests.support.sim_run import SimRun, run_sims

FAST_SEED = int(os.environ.get("FAULT_SEED", "1"))
LONG_SEEDS = int(os.environ.get("FAULT_SEEDS", "3"))


def _run(out: Path, seed: int, protocol: str) -> list[tuple[Generated, SimRun]]:
    files = generate(out, seed=seed, protocol=protocol)
    # The longest runs first (measured: filling ~45 s, platform ~35 s, idle and awaiting ~27 s).
    order = [files[2], files[4], files[3], files[0], files[1]]
    runs = {r.scenario: r for r in run_sims([g.path for g in order])}
    return [(g, runs[g.path]) for g in files]


def _report(g: Generated, run: SimRun, seed: int, protocol: str) -> str:
    """What failed, and how to get the same run again."""
    violations = check(load_scenario(g.path), run.events)
    if run.code == 0 and not violations:
        return ""
    lines = [
        f"{g.path.name} (seed {seed}, protocol {protocol}): exit {run.code}, {len(violations)} violations"
    ]
    lines += [str(v) for v in violations]
    if run.code != 0:
        lines.append(run.stderr[-2000:])
    lines += [
        "reproduce:",
        f"  python -m simulator.fault_matrix --out DIR --seed {seed} --protocol {protocol}",
        f"  fillfloor sim DIR/{g.path.name} --events OUT.jsonl",
        f"  python -m simulator.history_check DIR/{g.path.name} OUT.jsonl",
        f"(this run's files: {g.path} and {run.events_path})",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- the generator (no processes)
def test_the_matrix_is_every_applicable_fault_of_every_device_in_three_phases() -> None:
    cases = matrix()
    assert len(cases) == 39
    assert len(set(cases)) == 39
    assert len({c.station for c in cases}) == 39
    assert {c.phase for c in cases} == set(PHASES)
    assert Case("valve", "stuck_open", "filling") in cases
    assert not [c for c in cases if c.kind == "stuck_open" and c.device != "valve"]


@pytest.mark.parametrize("protocol", ["tcp", "rtu", "mixed"])
def test_generated_files_are_valid_scenarios_each_case_on_its_own_station(
    tmp_path: Path, protocol: str
) -> None:
    files = generate(tmp_path, seed=7, protocol=protocol)
    assert sum(len(g.cases) for g in files) == 39
    for g in files:
        scenario = load_scenario(g.path)  # (strict: any unknown key or bad value raises)
        protocols = {s.protocol for s in scenario.stations}
        assert protocols == ({"tcp", "rtu"} if protocol == "mixed" else {protocol})
        faults = [s for s in scenario.steps if s.do == "fault"]
        assert sorted((s.station, s.args["device"], s.args["kind"]) for s in faults if g.cases) == sorted(
            (c.station, c.device, c.kind) for c in g.cases
        )
        # Every station's course ends with its cylinder lifted off and a wait for idle.
        last = [s for s in scenario.steps if s.do == "remove"][-len(scenario.stations) :]
        assert {s.station for s in last} == {s.id for s in scenario.stations}
    [platform] = [g for g in files if g.what == "platform"]
    doc = tomllib.loads(platform.path.read_text(encoding="utf-8"))
    assert doc["platform"]["embedded"] is True
    assert {s["mode"] for s in doc["step"] if s["do"] == "platform"} == {
        "down", "error_5xx", "drop_response", "slow", "up",
    }  # fmt: skip
    assert doc["step"][-1]["do"] == "wait_sync"


def test_a_seed_gives_the_same_files_and_another_seed_other_timings(tmp_path: Path) -> None:
    first = [g.path.read_text(encoding="utf-8") for g in generate(tmp_path / "a", seed=3)]
    again = [g.path.read_text(encoding="utf-8") for g in generate(tmp_path / "b", seed=3)]
    other = [g.path.read_text(encoding="utf-8") for g in generate(tmp_path / "c", seed=4)]
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_a_valve_stuck_open_during_a_fill_lasts_past_the_cut_off(tmp_path: Path) -> None:
    for seed in range(10):
        [filling] = [
            g for g in generate(tmp_path / str(seed), seed=seed) if g.cases and g.cases[0].phase == "filling"
        ]
        steps = load_scenario(filling.path).steps
        [stuck] = [s for s in steps if s.do == "fault" and s.args["kind"] == "stuck_open"]
        sleeps = sum(s.args["seconds"] for s in steps[: stuck.index] if s.do == "sleep")
        assert sleeps + stuck.args["seconds"] >= 14.5 / 1.5  # the whole fill at its flow


# ---------------------------------------------------------------- the runs
@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Generated, SimRun]]:
    return _run(tmp_path_factory.mktemp("fault-matrix"), FAST_SEED, "mixed")


def test_every_case_of_the_matrix_was_injected_in_its_phase(fast: list[tuple[Generated, SimRun]]) -> None:
    seen = set()
    for g, run in fast:
        for case in fault_cases(load_scenario(g.path), run.events):
            seen.add((case.device, case.kind, case.phase))
    missing = {(c.device, c.kind, c.phase) for c in matrix()} - seen
    assert not missing, f"not injected in their phase (seed {FAST_SEED}, mixed): {sorted(missing)}"


@pytest.mark.parametrize("which", [*PHASES, "platform", "frozen_scale"])
def test_every_fault_fails_closed_and_the_floor_recovers(
    fast: list[tuple[Generated, SimRun]], which: str
) -> None:
    [(g, run)] = [(g, r) for g, r in fast if g.what == which]
    report = _report(g, run, FAST_SEED, "mixed")
    assert not report, report


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["tcp", "rtu"])
@pytest.mark.parametrize("seed", range(1, LONG_SEEDS + 1))
def test_the_matrix_over_many_seeds(tmp_path: Path, seed: int, protocol: str) -> None:
    runs = _run(tmp_path, seed, protocol)
    reports = [r for g, run in runs if (r := _report(g, run, seed, protocol))]
    assert not reports, "\n\n".join(reports)
