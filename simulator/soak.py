"""The soak run: a long live floor sampled for memory and latency, judged for growth and drift.

`fillfloor demo --headless --stations 32 --duration 1h` runs the live demo's floor (fills,
refusals, faults, platform outages; `simulator.live_demo`) headless for that long and samples,
every `interval_s`:
- the process's resident memory (VmRSS) and the number of live trio tasks (a leaked task or
  buffer shows as growth of one of them);
- the event loop's lateness: a task asks to wake every 10 ms and measures how late it woke (p50,
  p99, max of the window). Scale polls, cut-off decisions and valve commands all run on this loop,
  so this is the control path's scheduling latency;
- fills completed, their mean absolute error (ground truth for accuracy drift) and the records
  still waiting for the writer and the platform.

The verdict compares the last quarter of the run with the second one (the first is warm-up:
caches, the database growing its first pages, the embedded platform's first batches):
memory may grow by at most `max(GROWTH_FLOOR_MB, GROWTH_RATIO)`, the loop's p99 lateness by at
most ×`DRIFT_RATIO` + `DRIFT_FLOOR_MS`, the tasks by none beyond the stations' own churn. A short
run (fewer than 8 windows) reports the figures without a verdict.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from domain.events import FillCompleted
from platform_client.sync import PlatformSync
from simulator.measure import percentile, rss_kib
from supervisor.floor import Floor
from supervisor.storage.database import Database

__all__ = ["SoakSampler", "Window", "judge"]

LAG_TICK_S = 0.010
GROWTH_FLOOR_MB = 8.0
GROWTH_RATIO = 0.05
DRIFT_RATIO = 1.5
DRIFT_FLOOR_MS = 2.0
TASKS_SLACK = 8  # tasks that come and go with a fault or a reconnect at the moment of a sample
MIN_WINDOWS = 8


@attrs.frozen
class Window:
    """One sampling window of the soak (times in seconds from the start, lateness in ms)."""

    t_s: float
    rss_mb: float
    tasks: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    fills: int
    mean_abs_error_g: float | None
    writer_backlog: int
    platform_backlog: int | None


def _count_tasks() -> int:
    root = trio.lowlevel.current_root_task()
    assert root is not None  # (called inside trio.run)
    todo = [root]
    count = 0
    while todo:
        task = todo.pop()
        count += 1
        for nursery in task.child_nurseries:
            todo.extend(nursery.child_tasks)
    return count


class SoakSampler:
    """Samples the floor every `interval_s`; `attach` it to the scenario runner. The fills come in
    through `observe` (the event file's tee), so the sampler never waits on the floor."""

    def __init__(
        self, interval_s: float, report: Path | None = None, on_window: Callable[[Window], None] | None = None
    ) -> None:
        self.interval_s = interval_s
        self.report = report  # rewritten at every window: a run cut short still leaves its figures
        self._on_window = on_window
        self.windows: list[Window] = []
        self._lags: list[float] = []
        self._errors: list[float] = []
        self._start = 0.0

    def observe(self, event_type: str, fields: Mapping[str, Any]) -> None:
        if event_type == FillCompleted.TYPE:
            self._errors.append(abs(float(fields["error_g"])))

    async def attach(
        self, floor: Floor, db: Database, sync: PlatformSync | None, task_status: trio.TaskStatus[None]
    ) -> None:
        self._start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._measure_lag)
            task_status.started()
            while True:
                await trio.sleep(self.interval_s)
                self._sample(floor, sync)
                if self.report is not None:  # (a file write: off the loop the stations run on)
                    text = json.dumps(self.summary(), ensure_ascii=False, indent=1)
                    await trio.to_thread.run_sync(self.report.write_text, text, "utf-8")

    async def _measure_lag(self) -> None:
        while True:
            due = trio.current_time() + LAG_TICK_S
            await trio.sleep_until(due)
            self._lags.append((trio.current_time() - due) * 1000)

    def _sample(self, floor: Floor, platform: PlatformSync | None) -> None:
        lags, self._lags = self._lags, []
        errors, self._errors = self._errors, []
        sync = platform.figures() if platform is not None else None
        window = Window(
            t_s=round(trio.current_time() - self._start, 1),
            rss_mb=round(rss_kib() / 1024, 1),
            tasks=_count_tasks(),
            lag_p50_ms=round(percentile(lags, 50), 2) if lags else 0.0,
            lag_p99_ms=round(percentile(lags, 99), 2) if lags else 0.0,
            lag_max_ms=round(max(lags, default=0.0), 2),
            fills=len(errors),
            mean_abs_error_g=round(statistics.fmean(errors), 1) if errors else None,
            writer_backlog=floor.sink.backlog,
            platform_backlog=sync.get("backlog") if sync is not None else None,
        )
        self.windows.append(window)
        if self._on_window is not None:
            self._on_window(window)

    def summary(self) -> dict[str, Any]:
        return {"windows": [attrs.asdict(w) for w in self.windows], "verdict": judge(self.windows)}


def judge(windows: list[Window]) -> dict[str, Any] | None:
    """Growth and drift from the second quarter of the run to the last; None for a short run."""
    if len(windows) < MIN_WINDOWS:
        return None
    quarter = len(windows) // 4
    early, late = windows[quarter : 2 * quarter], windows[-quarter:]

    def median(ws: list[Window], field: str) -> float:
        return statistics.median(getattr(w, field) for w in ws)

    rss_early, rss_late = median(early, "rss_mb"), median(late, "rss_mb")
    lag_early, lag_late = median(early, "lag_p99_ms"), median(late, "lag_p99_ms")
    # Medians both: the early quarter's maximum (a reconnect's tasks at one sample) would hide a
    # slow leak of as many tasks.
    tasks_early, tasks_late = median(early, "tasks"), median(late, "tasks")
    growth_allowed = max(GROWTH_FLOOR_MB, rss_early * GROWTH_RATIO)
    drift_allowed = lag_early * DRIFT_RATIO + DRIFT_FLOOR_MS
    problems = []
    if rss_late - rss_early > growth_allowed:
        problems.append(f"memory grew {rss_late - rss_early:.1f} MB (allowed {growth_allowed:.1f})")
    if lag_late > drift_allowed:
        problems.append(f"loop p99 lateness drifted {lag_early:.2f} → {lag_late:.2f} ms")
    if tasks_late > tasks_early + TASKS_SLACK:
        problems.append(f"tasks grew {tasks_early:.0f} → {tasks_late:.0f}")
    return {
        "rss_mb": [rss_early, rss_late],
        "lag_p99_ms": [lag_early, lag_late],
        "tasks": [tasks_early, tasks_late],
        "ok": not problems,
        "problems": problems,
    }
