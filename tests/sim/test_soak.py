"""The soak run (`fillfloor demo --headless --duration`): the figures it samples and its verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fillfloor.cli import main
from simulator.soak import Window, judge


def _windows(
    rss: list[float], lag_p99: float | list[float] = 2.0, tasks: int | list[int] = 60
) -> list[Window]:
    n = len(rss)
    lags = lag_p99 if isinstance(lag_p99, list) else [lag_p99] * n
    counts = tasks if isinstance(tasks, list) else [tasks] * n
    return [
        Window(t_s=10.0 * i, rss_mb=rss[i], tasks=counts[i], lag_p50_ms=0.5, lag_p99_ms=lags[i],
               lag_max_ms=lags[i] * 2, fills=3, mean_abs_error_g=12.0, writer_backlog=0, platform_backlog=0)
        for i in range(n)
    ]  # fmt: skip


def test_a_flat_run_passes_and_warm_up_growth_is_not_held_against_it() -> None:
    # The first quarter grows (caches, the database's first pages); then flat.
    verdict = judge(_windows([60, 70, 78, 80, 80, 80.5, 80, 81, 80.5, 81, 80.8, 81, 81, 80.9, 81, 81]))
    assert verdict is not None
    assert verdict["problems"] == []
    assert verdict["ok"]


def test_steady_memory_growth_is_found() -> None:
    verdict = judge(_windows([80 + 2 * i for i in range(16)]))  # +2 MB a window: a leak
    assert verdict is not None
    assert not verdict["ok"]
    assert verdict["problems"][0].startswith("memory grew")


def test_latency_drift_and_leaked_tasks_are_found() -> None:
    lags = [2.0] * 8 + [9.0] * 8
    assert "loop p99 lateness drifted 2.00 → 9.00 ms" in judge(_windows([80] * 16, lag_p99=lags))["problems"]  # type: ignore[index]
    tasks = [60] * 8 + [60 + 10 * i for i in range(8)]
    problems = judge(_windows([80] * 16, tasks=tasks))["problems"]  # type: ignore[index]
    assert any(p.startswith("tasks grew 60 →") for p in problems), problems


def test_a_slow_task_leak_is_not_hidden_by_a_spike_early_on() -> None:
    tasks = [60, 60, 60, 60, 60, 75, 60, 60, 69, 69, 70, 70, 70, 70, 71, 71]  # a reconnect at 50 s
    problems = judge(_windows([80] * 16, tasks=tasks))["problems"]  # type: ignore[index]
    assert problems == ["tasks grew 60 → 70"]


def test_a_short_run_has_no_verdict() -> None:
    assert judge(_windows([80] * 7)) is None


def test_the_soak_run_samples_a_live_floor_and_ends_on_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Under 8 windows: no verdict, so the exit status does not hang on this machine's load (the
    # lateness is wall-clock time); the verdict's rules are the tests above.
    data = tmp_path / "data"
    assert main(["demo", "--headless", "--duration", "14s", "--stations", "2", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "耐久运行：2 个工位，14 秒，每 2 秒采样" in out
    chain = re.search(r"充装记录链完整（(\d+) 条）", out)
    assert chain is not None
    assert int(chain.group(1)) >= 1  # a fill completed, or the one under way at the end recorded
    assert "运行太短" in out
    report = json.loads((data / "soak-report.json").read_text(encoding="utf-8"))
    windows = report["windows"]
    assert 5 <= len(windows) <= 7  # every 2 s for 14 s: the script stopped at its duration
    assert all(w["rss_mb"] > 10 and w["tasks"] > 10 and w["lag_p99_ms"] >= 0 for w in windows)
    assert report["verdict"] is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stations", "32"], "--stations must be 1 to 6 (1-64 with --duration)"),
        (["--headless", "--duration", "1m", "--stations", "65"], "--stations must be 1 to 64"),
        (["--duration", "1m"], "--duration is for the headless soak run"),
    ],
)
def test_soak_arguments_out_of_range_are_refused_with_the_range(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--data-dir", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_duration_that_is_not_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--headless", "--duration", "forever"])
    assert exit_.value.code == 2
    assert "not a duration: 'forever' (e.g. 1h, 10m, 90s)" in capsys.readouterr().err
