"""Crash safety (#9): the supervisor SIGKILLed at seeded moments of a running shift.

Each run (tests/support/crash_harness.py) asserts that the valve closed by its own watchdog within its
period after the kill, and after a restart on the same database: every record committed before the
kill is still there, a fill under way is recorded as interrupted, the fill chain verifies, the
station fills again, the outbox drains and the platform holds each record exactly once.

`make test` runs one run per kill moment (fixed seeds); `make crash-long` runs CRASH_RUNS (50) runs
with random moments; `CRASH_SEED=N` reproduces one run (`-k one_seed`). A summary of each run is
printed (`-s`) and appended to $CRASH_REPORT when that is set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

from tests.support.crash_harness import MOMENTS, VALVE_DELAY_S, WATCHDOG_S, CrashResult, crash_run

# Past the watchdog period and the actuator's delay (0.55 s): the simulator's step, the events'
# delivery and a loaded machine. Measured here: shut 0.47-0.55 s after the kill in 6 kills while open
# (docs/runtime.md, "Crash safety"); the margin is for CI on a busy machine.
CLOSE_TOLERANCE_S = 0.35


def _report(result: CrashResult) -> None:
    line = json.dumps(attrs.asdict(result))
    print(f"crash run: {line}")
    if path := os.environ.get("CRASH_REPORT"):
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def _check(result: CrashResult) -> None:
    _report(result)
    if result.valve_open_at_kill:
        assert result.close_after_kill_s is not None
        assert result.close_after_kill_s <= WATCHDOG_S + VALVE_DELAY_S + CLOSE_TOLERANCE_S
        assert result.interrupted == 1
    assert result.records_after >= result.records_before_kill
    assert result.uploaded >= result.records_after


@pytest.mark.parametrize("moment", MOMENTS)
async def test_a_kill_at_each_moment_loses_nothing(tmp_path: Path, moment: str) -> None:
    result = await crash_run(tmp_path, seed=MOMENTS.index(moment) + 1, moment=moment)
    _check(result)
    if moment == "filling":
        assert result.valve_open_at_kill  # the moment is while the valve is really open


@pytest.mark.skipif("CRASH_SEED" not in os.environ, reason="set CRASH_SEED=N to reproduce one run")
async def test_one_seed(tmp_path: Path) -> None:
    _check(await crash_run(tmp_path, seed=int(os.environ["CRASH_SEED"])))


@pytest.mark.slow
@pytest.mark.parametrize("run", range(int(os.environ.get("CRASH_RUNS", "50"))))
async def test_many_seeded_kills(tmp_path: Path, run: int) -> None:
    _check(await crash_run(tmp_path, seed=1000 + run))
