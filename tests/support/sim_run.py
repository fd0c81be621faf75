"""Running `fillfloor sim` as a real process from the tests, one scenario or several side by side.

`run_sim` runs one and returns its exit status, its stderr and its events; `run_sims` runs many,
each writing its events beside its scenario, side by side only while the machine has a core idle
for another: a run is a floor and its simulated devices in real time, and starved of CPU it would
measure the machine, not the floor (CI shares its cores: two runs beside other work lost their
scales to a starved loop, one at a time they did not).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from simulator.event_log import Event, of, read_events
from simulator.history_check import check
from simulator.scenario import load_scenario

__all__ = [
    "ROOT",
    "SCENARIOS",
    "SimRun",
    "assert_never_above_max_fill",
    "of",
    "run_sim",
    "run_sims",
    "valve_opened",
]

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "simulator" / "scenarios"


@frozen
class SimRun:
    scenario: Path
    events_path: Path
    code: int
    stderr: str
    events: list[Event]


def _command(scenario: Path, events: Path, extra: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "fillfloor.cli", "sim", str(scenario), "--events", str(events), *extra]


def run_sim(
    scenario: Path, tmp: Path, timeout: float = 240, extra: list[str] | None = None
) -> tuple[int, str, list[dict[str, Any]]]:
    events = tmp / f"{scenario.stem}.jsonl"
    proc = subprocess.run(
        _command(scenario, events, extra or []),
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stderr, read_events(events)


# What one more run of the fault matrix needs idle: it takes 17 s of CPU in its 28 s (0.6 of a
# core; its simulators and its floor share one interpreter, so never more than one), and its floor
# needs a sample within 1 s: a whole core, so that a busy neighbour's burst does not starve it.
_ONE_RUN_CORES = 1.0


def _idle_cores(cpus: set[int], window_s: float = 0.5) -> float | None:
    """How many of `cpus` sat idle over the next `window_s` (Linux's /proc/stat), None elsewhere."""

    def sample() -> tuple[int, int]:
        idle = total = 0
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                    ticks = [int(f) for f in fields[:8]]  # (guest time is counted in user already)
                    idle += ticks[3] + ticks[4]  # idle and iowait
                    total += sum(ticks)
        return idle, total

    try:
        idle_before, total_before = sample()
        time.sleep(window_s)
        idle_after, total_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total_after <= total_before:
        return None
    return len(cpus) * (idle_after - idle_before) / (total_after - total_before)


# How long a run is left to itself before the cores are looked at: just started, it has not yet
# taken its share, and the cores would look idle.
_SETTLE_S = 3.0


def _room_for_another(started: Sequence[float], cpus: set[int]) -> bool:
    """Whether another run fits beside the runs `started` (their monotonic start times)."""
    if not started:
        return True
    if len(started) >= len(cpus):
        return False
    if time.monotonic() - max(started) < _SETTLE_S:
        return False
    idle = _idle_cores(cpus)
    return idle is None or idle >= _ONE_RUN_CORES


def run_sims(scenarios: Sequence[Path], timeout: float = 600) -> list[SimRun]:
    """Run every scenario, the first at once and each other beside it while a core is idle for it
    (never more than the cores this process may use: pinned with `taskset`, only those count), and
    return them in the order given."""
    cpus = os.sched_getaffinity(0)
    waiting = list(scenarios)
    running: dict[Path, tuple[subprocess.Popen[bytes], float]] = {}
    done: dict[Path, SimRun] = {}
    while waiting or running:
        while waiting and _room_for_another([at for _, at in running.values()], cpus):
            scenario = waiting.pop(0)
            events = scenario.with_suffix(".jsonl")
            # stderr to a file beside the events: a pipe nobody reads until the end would block
            # a run that writes more than the pipe holds (64 KiB), and the run would time out.
            with scenario.with_suffix(".stderr").open("wb") as stderr_file:
                proc = subprocess.Popen(_command(scenario, events, []), cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=stderr_file)  # fmt: skip
            running[scenario] = (proc, time.monotonic())
        for scenario, (proc, started) in list(running.items()):
            if proc.poll() is None and time.monotonic() - started < timeout:
                continue
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            stderr = scenario.with_suffix(".stderr").read_text(encoding="utf-8", errors="replace")
            events = scenario.with_suffix(".jsonl")
            done[scenario] = SimRun(scenario, events, proc.returncode, stderr, read_events(events))
            del running[scenario]
        time.sleep(0.1)
    return [done[s] for s in scenarios]


def valve_opened(events: list[dict[str, Any]]) -> dict[str, int]:
    opened: dict[str, int] = defaultdict(int)
    for e in of(events, "sim.valve"):
        opened[e["station"]] += e["open"]
    return opened


def assert_never_above_max_fill(scenario: Path, events: list[dict[str, Any]]) -> None:
    """No mass above tare + the model's maximum fill, but at a valve stuck open that raised its
    critical alarm and faulted the station (the fault matrix's rule, simulator.history_check)."""
    found = [v for v in check(load_scenario(scenario), events) if v.rule in ("max_fill", "stuck_open")]
    assert not found, "\n".join(map(str, found))
