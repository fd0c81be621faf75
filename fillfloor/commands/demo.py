"""`fillfloor demo`: a live simulated floor with the console on it (what `make demo` runs).

The floor: simulated scales and valves over Modbus (TCP and RTU), scanners on serial lines
(ptys), the real supervisor on top, records in SQLite in `--data-dir`, a steady stream of scripted
cylinders (`simulator.live_demo`: fills, refusals, a scale dropping off the line, a crashing
actor). It runs in its own process with its console server on a loopback port; this process
creates a supervisor's console user for the session and opens the console (`tui`) on it. `q`
quits the console, which stops the floor (valves closed first) and prints the state of the fill
chain; the exit status is 0 when all of that went well.

`--headless` (for CI and a quick look): the short scripted demo instead, printing in the
operator's language what the floor decides as it happens — fills with their net mass and error,
refusals with their reasons in words, alarms — and at the end the shift's figures and the state
of the fill chain. The events go to `--events` (JSON lines).

`--headless --duration 1h [--stations 32]`: the soak run (`simulator.soak`): the live floor's
script for that long, memory and loop latency sampled, a line per sample, then the verdict (growth,
drift) and a JSON report; exit 1 when the chain is broken or the verdict finds growth or drift.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import trio

from domain.events import AlarmRaised, FillAborted, FillCompleted, InterlockRefused
from domain.reasons import describe
from fillfloor.commands._db import open_for
from supervisor.storage.verify import verify_chain

__all__ = ["register"]

_TEXTS = {
    "zh": {
        "title": "演示：{file}（{unit} {name}，日期 {today}）— 仿真秤与阀门经 Modbus TCP/RTU，扫码枪经串口",
        "fill": "  [{station}] 充装完成 {cylinder}：净重 {net:.3f} kg，误差 {error:+d} g{flags}",
        "aborted": "  [{station}] 充装中止 {cylinder}：{reason}",
        "refused": "  [{station}] 拒绝充装 {cylinder}：{reasons}",
        "alarm": "  [{station}] 报警（{severity}）：{message}",
        "sep": "；",
        "summary": "共充装 {fills} 瓶，中止 {aborted} 次，拒绝 {refused} 次；充装记录链完整（{chain} 条）。",
        "broken": "充装记录链损坏：{problem}",
        "files": "事件：{events}；数据库：{db}",
        "soak": "耐久运行：{n} 个工位，{duration:.0f} 秒，每 {every:.0f} 秒采样"
        "（内存、事件循环延迟、充装误差）",
        "window": "  {t:>7.0f} s  内存 {rss:6.1f} MB  任务 {tasks:4d}  "
        "循环延迟 p99 {p99:5.2f} ms（最大 {max:6.2f}）  充装 {fills:3d} 瓶  平均误差 {err} g  "
        "待写入 {wb}  待上传 {pb}",
        "verdict_ok": "耐久结论：无增长、无漂移（内存 {r0:.1f} → {r1:.1f} MB，"
        "循环延迟 p99 {l0:.2f} → {l1:.2f} ms，任务 {t0} → {t1:.0f}）。",
        "verdict_bad": "耐久结论：发现问题 — {problems}",
        "verdict_short": "运行太短（{n} 个采样窗口），不作增长与漂移结论。",
        "report": "耐久报告：{path}",
    },
    "en": {
        "title": "Demo: {file} ({unit} {name}, date {today}) — simulated scales and valves over Modbus "
        "TCP/RTU, scanners on serial lines",
        "fill": "  [{station}] filled {cylinder}: net {net:.3f} kg, error {error:+d} g{flags}",
        "aborted": "  [{station}] fill aborted {cylinder}: {reason}",
        "refused": "  [{station}] refused {cylinder}: {reasons}",
        "alarm": "  [{station}] alarm ({severity}): {message}",
        "sep": "; ",
        "summary": "{fills} fill(s), {aborted} aborted, {refused} refusal(s); "
        "fill chain intact ({chain} records).",
        "broken": "fill chain BROKEN: {problem}",
        "files": "events: {events}; database: {db}",
        "soak": "soak run: {n} stations, {duration:.0f} s, a sample every {every:.0f} s "
        "(memory, loop latency, fill error)",
        "window": "  {t:>7.0f} s  RSS {rss:6.1f} MB  tasks {tasks:4d}  loop lateness p99 {p99:5.2f} ms "
        "(max {max:6.2f})  fills {fills:3d}  mean error {err} g  to write {wb}  to upload {pb}",
        "verdict_ok": "soak verdict: no growth, no drift (RSS {r0:.1f} → {r1:.1f} MB, loop p99 {l0:.2f} → "
        "{l1:.2f} ms, tasks {t0} → {t1:.0f}).",
        "verdict_bad": "soak verdict: PROBLEMS — {problems}",
        "verdict_short": "run too short ({n} sample windows) for a growth and drift verdict.",
        "report": "soak report: {path}",
    },
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the demo scenario on a live simulated floor (headless)")
    parser.add_argument("--scenario", type=Path, help="a scenario file (default: the bundled demo)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the output")
    # Not `serve`'s ./data: a demo never writes into a plant's records.
    parser.add_argument("--data-dir", default="data/demo", metavar="DIR",
                        help="data directory (default ./data/demo, apart from serve's ./data)")  # fmt: skip
    parser.add_argument("--db", metavar="URL", help="database URL (default: SQLite in --data-dir)")
    parser.add_argument("--events", type=Path, metavar="OUT.jsonl",
                        help="where the events go (default: demo-events.jsonl in --data-dir)")  # fmt: skip
    parser.add_argument("--headless", action="store_true",
                        help="no console: the short scripted demo, printing its decisions")  # fmt: skip
    parser.add_argument("--stations", type=int, default=None, metavar="N",
                        help="stations on the live floor (1-6, default 4; with --duration 1-64)")  # fmt: skip
    parser.add_argument("--duration", type=_duration, metavar="TIME",
                        help="with --headless: the soak run for TIME (e.g. 1h, 10m, 90s)")  # fmt: skip
    # The live floor's own process (started by `fillfloor demo`, not by people).
    parser.add_argument("--serve-console", metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


class _Summary:
    """Prints what matters to a person as the events come."""

    def __init__(self, lang: str, *, quiet: bool = False) -> None:
        self.lang = lang
        self.quiet = quiet  # counts only (the soak run prints its samples instead)
        self.text = _TEXTS[lang]
        self.counts = {FillCompleted.TYPE: 0, FillAborted.TYPE: 0, InterlockRefused.TYPE: 0}

    def __call__(self, event_type: str, e: Mapping[str, Any]) -> None:
        t, station, cylinder = self.text, e.get("station", "-"), e.get("cylinder") or "-"
        if event_type in self.counts:
            self.counts[event_type] += 1
        if self.quiet:
            return
        if event_type == FillCompleted.TYPE:
            flags = "".join(f"（{describe(f, self.lang)}）" for f in e.get("flags", []))
            print(t["fill"].format(station=station, cylinder=cylinder, net=e["net_kg"], error=e["error_g"],
                                   flags=flags), flush=True)  # fmt: skip
        elif event_type == FillAborted.TYPE:
            print(t["aborted"].format(station=station, cylinder=cylinder,
                                      reason=describe(e["reason"], self.lang)), flush=True)  # fmt: skip
        elif event_type == InterlockRefused.TYPE:
            reasons = t["sep"].join(describe(r, self.lang) for r in e["reasons"])
            print(t["refused"].format(station=station, cylinder=cylinder, reasons=reasons), flush=True)
        elif event_type == AlarmRaised.TYPE:
            print(
                t["alarm"].format(station=station, severity=e["severity"], message=e["message"]), flush=True
            )


_UNITS_S = {"": 1, "s": 1, "m": 60, "h": 3600}
_LIVE_STATIONS = 6
_SOAK_STATIONS = 64


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 1h, 10m, 90s)")
    return float(match.group(1)) * _UNITS_S[match.group(2)]


def run(args: argparse.Namespace) -> int:
    from fillfloor.commands.demo_live import run_live, serve_live_floor

    most = _SOAK_STATIONS if args.duration is not None else _LIVE_STATIONS
    if args.stations is None:
        args.stations = 4
    elif not 1 <= args.stations <= most:
        more = "" if args.duration else f" (1-{_SOAK_STATIONS} with --duration)"
        print(f"fillfloor demo: --stations must be 1 to {most}{more}", file=sys.stderr)
        return 2
    if args.duration is not None and not args.headless:
        print("fillfloor demo: --duration is for the headless soak run (add --headless)", file=sys.stderr)
        return 2
    if args.serve_console:
        return serve_live_floor(args)
    if not args.headless:
        return run_live(args)
    if args.duration is not None:
        return run_soak(args)
    return run_headless(args)


def run_headless(args: argparse.Namespace) -> int:
    from simulator.runner import run_scenario
    from simulator.scenario import load_scenario
    from supervisor.devices import DeviceActorFactory

    path = args.scenario or Path(str(resources.files("simulator") / "scenarios" / "demo.toml"))
    scenario = load_scenario(path)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    open_for(args).close()  # a clear message now if the database cannot be opened
    events = args.events or data_dir / "demo-events.jsonl"
    summary = _Summary(args.lang)
    t = summary.text
    print(
        t["title"].format(
            file=path.name, unit=scenario.unit_code, name=scenario.short_name, today=scenario.today
        )
    )
    trio.run(
        lambda: run_scenario(scenario, events, args.db, DeviceActorFactory(), data_dir=data_dir, tee=summary)
    )
    chain_ok = _chain_line(args, t, summary.counts)
    print(t["files"].format(events=events, db=args.db or data_dir / "fillfloor.db"))
    return 0 if chain_ok else 1


def _chain_line(args: argparse.Namespace, t: Mapping[str, str], counts: Mapping[str, int]) -> bool:
    db = open_for(args)
    try:
        chain = verify_chain(db.engine)
    finally:
        db.close()
    if chain.ok:
        print(t["summary"].format(fills=counts[FillCompleted.TYPE], aborted=counts[FillAborted.TYPE],
                                  refused=counts[InterlockRefused.TYPE], chain=chain.count))  # fmt: skip
    else:
        print(t["broken"].format(problem=chain.problem))
    return chain.ok


def run_soak(args: argparse.Namespace) -> int:
    from simulator.live_demo import live_demo_scenario
    from simulator.runner import run_scenario
    from simulator.soak import SoakSampler, Window
    from supervisor.devices import DeviceActorFactory

    duration: float = args.duration
    every = min(60.0, max(2.0, duration / 40))
    # Rounds of the live script take 15-25 s; more than enough of them, the run stops at `duration`.
    scenario = live_demo_scenario(args.stations, rounds=math.ceil(duration / 10) + 2, maintenance=True)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    open_for(args).close()
    events = args.events or data_dir / "soak-events.jsonl"
    report = data_dir / "soak-report.json"
    summary = _Summary(args.lang, quiet=True)
    t = summary.text
    print(t["soak"].format(n=args.stations, duration=duration, every=every), flush=True)

    def show(w: Window) -> None:
        err = "-" if w.mean_abs_error_g is None else f"{w.mean_abs_error_g:.1f}"
        pb = "-" if w.platform_backlog is None else w.platform_backlog
        print(t["window"].format(t=w.t_s, rss=w.rss_mb, tasks=w.tasks, p99=w.lag_p99_ms, max=w.lag_max_ms,
                                 fills=w.fills, err=err, wb=w.writer_backlog, pb=pb), flush=True)  # fmt: skip

    sampler = SoakSampler(every, report, on_window=show)

    def tee(event_type: str, e: Mapping[str, Any]) -> None:
        summary(event_type, e)
        sampler.observe(event_type, e)

    async def soak() -> None:
        await run_scenario(scenario, events, args.db, DeviceActorFactory(), data_dir=data_dir, tee=tee,
                           attach=sampler.attach, stop_after_s=duration)  # fmt: skip

    trio.run(soak)
    chain_ok = _chain_line(args, t, summary.counts)
    verdict = sampler.summary()["verdict"]
    if verdict is None:
        print(t["verdict_short"].format(n=len(sampler.windows)))
    elif verdict["ok"]:
        (r0, r1), (l0, l1), (t0, t1) = verdict["rss_mb"], verdict["lag_p99_ms"], verdict["tasks"]
        print(t["verdict_ok"].format(r0=r0, r1=r1, l0=l0, l1=l1, t0=t0, t1=t1))
    else:
        print(t["verdict_bad"].format(problems=t["sep"].join(verdict["problems"])))
    print(t["report"].format(path=report))
    print(t["files"].format(events=events, db=args.db or data_dir / "fillfloor.db"))
    return 0 if chain_ok and (verdict is None or verdict["ok"]) else 1
