"""Soak: a live simulated floor, memory and loop latency early against late.

    python -m benchmarks.soak [--stations 32] [--duration 600]      # make bench (ten minutes)
    SOAK_DURATION=3600 python -m benchmarks benchmarks.soak          # the hour, into docs/benchmarks.md
    SOAK_STATIONS=16 SOAK_DURATION=3600 python -m benchmarks benchmarks.soak
    fillfloor demo --headless --stations 32 --duration 1h            # make soak (the long run)

The live demo's script (fills, refusals, a scale off the line, a crashing scanner actor restarted
by maintenance, platform outages) runs in a fresh process: the whole floor in one trio loop —
supervisor, actors, the Modbus and scanner simulators and the embedded platform. Every window the
process's RSS, its live trio tasks, the loop's lateness (a 10 ms tick: how late it wakes, which is
what a scale poll or a cut-off decision waits on) and the fills with their mean absolute error are
sampled (`simulator.soak`). The rows compare the second quarter of the run with the last (the first
is warm-up); ratios are last over second. A growth or a drift fails the run's verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["NOTES", "run"]

NOTES = """\
- The simulators run in the supervisor's process and loop (as in `fillfloor sim`), so the loop's
  lateness and the fill error here are the *whole* floor's on one core's worth of Python, not the
  supervisor's alone on a plant (where the indicators cut off in their own hardware).
- The mean error is over the fills of each window (indicator and host cut-off stations alternate);
  it grows with the loop's lateness because half the stations cut off on the host.
- The record sink hands the storage writer every waiting record at once, in order (a run of
  2026-11-25 found 10-50 records queued behind one-at-a-time writes, and fills waiting on their
  open marker behind them).
- Found by the hour's run of 2026-12-02 (before these figures): RSS grew ~1 MB a minute, steadily
  (126 -> 152 MB in 25 minutes). tracemalloc on an 8-station run put it on the Modbus TCP link's
  transaction ids: `itertools.cycle(range(1, 65536))` keeps a copy of every id of its first round,
  ~2.4 MB a connection over its first 65,535 requests (an hour at 20 Hz), 16 stations x 2 TCP
  devices here. Now a counter; `tests/actors/test_actors.py` checks a link keeps nothing per request.
  The same run sat idle for minutes: a scan refused right after a scripted scale outage (or with
  the storage stalled) left its round waiting out that station's 40 s; the script now waits for
  the station to be back before the next round.
- Pinned to one core (`taskset -c 0`, the long fault runs on the other), the floor (32 stations
  and their simulators in one process) saturates it: at 2026-12-02's second try, RSS stayed flat
  (133.9 MB from minute 11 to 15) but when all 32 stations started a fill at once, polls came late,
  scales went silent for over 1 s and their fills were aborted as `device.scale_lost` (failing
  closed), the alarms' records stalled storage, scans were refused as `station.fault` and the
  script waited out those stations: no fill for minutes.
- Not pinned, the same floor does worse on 2 cores than on one: the simulators are a thread and an
  asyncio loop per station in this process, and 30-odd threads handing the GIL to each other
  across cores starve the trio loop (lateness p50 43-51 ms from the first minute, 2,400 scale
  alarms raised and cleared in 2 minutes, 0 fills, 3,000 records waiting). So the run below is
  pinned to one core (`taskset -c 0`) with the other core idle. A plant's supervisor has no
  simulators in its process.
- A third 32-station try, pinned and alone, collapsed within its first minute the same way: 32
  stations with their simulators, the embedded platform and SQLite are more than one core of
  Python carries here (the simulators alone saturate a core at ~100 stations, benchmarks.poll_
  capacity). Overloaded, the floor fails closed (late polls: `device.scale_lost`, the valve shut)
  but feeds itself: every silent scale raises and clears an alarm, a record each, storage stalls
  and new scans are refused. So the hour below is 16 stations, about what one core carries.
"""


def _soak(stations: int, duration_s: float, data: Path) -> dict[str, Any]:
    demo = ["demo", "--headless", "--lang", "en", "--stations", str(stations)]
    demo += ["--duration", f"{duration_s:g}s"]
    # On one core, as `make soak` runs it (docs/soak.md: the simulators' threads and the GIL),
    # set by the child itself before anything starts (no preexec_fn: this process may have threads).
    pin = f"import os, runpy; os.sched_setaffinity(0, {{{min(os.sched_getaffinity(0))}}}); "
    pin += "runpy.run_module('fillfloor.cli', run_name='__main__')"
    command = [sys.executable, "-c", pin, *demo, "--data-dir", str(data)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    report = data / "soak-report.json"
    if not report.exists():
        raise RuntimeError(f"the soak run wrote no report (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    result["exit"] = proc.returncode
    result["chain"] = next((line for line in proc.stdout.splitlines() if "fill chain" in line), "")
    return result


def _from_env(name: str, default: str) -> float:
    raw = os.environ.get(name, default)
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}: not a number: {raw!r}") from None


def run(stations: int | None = None, duration_s: float | None = None) -> list[dict[str, Any]]:
    # `make bench` runs 32 stations for ten minutes; the variables ask for others.
    stations = stations if stations is not None else int(_from_env("SOAK_STATIONS", "32"))
    duration_s = duration_s if duration_s is not None else _from_env("SOAK_DURATION", "600")
    with tempfile.TemporaryDirectory(prefix="fillfloor-soak-") as tmp:
        result = _soak(stations, duration_s, Path(tmp))
    windows = result["windows"]
    quarter = max(1, len(windows) // 4)
    early, late = windows[quarter : 2 * quarter], windows[-quarter:]
    verdict = result["verdict"] or {"ok": None, "problems": ["too short for a verdict"]}
    where = f"{stations} stations, {duration_s:g} s, {len(windows)} windows"
    rows: list[dict[str, Any]] = []

    def pair(name: str, field: str, unit: str, fold: Any = statistics.median) -> None:
        a = fold([w[field] for w in early if w[field] is not None] or [0.0])
        b = fold([w[field] for w in late if w[field] is not None] or [0.0])
        rows.append({"name": f"{name}, second quarter (baseline)", "value": a, "unit": unit, "note": where})
        rows.append({"name": f"{name}, last quarter", "value": b, "unit": unit,
                     "ratio": b / a if a else 1.0})  # fmt: skip

    pair("RSS (median)", "rss_mb", "MB")
    pair("live trio tasks (median)", "tasks", "tasks")
    pair("loop lateness p99 (median of windows)", "lag_p99_ms", "ms")
    pair("loop lateness max (worst window)", "lag_max_ms", "ms", fold=max)
    pair("fill mean absolute error (median of windows)", "mean_abs_error_g", "g")
    fills = sum(w["fills"] for w in windows)
    ok = "no growth, no drift" if verdict["ok"] else "; ".join(verdict["problems"])
    rows.append({"name": "fills completed", "value": fills, "unit": "fills",
                 "note": f"verdict: {ok}; {result['chain']} (exit {result['exit']})"})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=None, help="default $SOAK_STATIONS or 32")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds (default $SOAK_DURATION or 600)"
    )
    args = parser.parse_args()
    for row in run(args.stations, args.duration):
        print(row)


if __name__ == "__main__":
    main()
