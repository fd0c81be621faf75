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
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import trio

from domain.reasons import describe
from simulator.runner import run_scenario
from simulator.scenario import load_scenario
from supervisor.commands._db import open_for
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
    },
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the demo scenario on a live simulated floor (headless)")
    parser.add_argument("--scenario", type=Path, help="a scenario file (default: the bundled demo)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the output")
    parser.add_argument("--data-dir", default="data", metavar="DIR", help="data directory (default ./data)")
    parser.add_argument("--db", metavar="URL", help="database URL (default: SQLite in --data-dir)")
    parser.add_argument("--events", type=Path, metavar="OUT.jsonl",
                        help="where the events go (default: demo-events.jsonl in --data-dir)")  # fmt: skip
    parser.add_argument("--headless", action="store_true",
                        help="no console: the short scripted demo, printing its decisions")  # fmt: skip
    parser.add_argument("--stations", type=int, default=4, choices=range(1, 7), metavar="N",
                        help="stations on the live floor (1-6, default 4)")  # fmt: skip
    # The live floor's own process (started by `fillfloor demo`, not by people).
    parser.add_argument("--serve-console", metavar="HOST:PORT", help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


class _Summary:
    """Prints what matters to a person as the events come."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.text = _TEXTS[lang]
        self.counts = {"fill.completed": 0, "fill.aborted": 0, "interlock.refused": 0}

    def __call__(self, event_type: str, e: Mapping[str, Any]) -> None:
        t, station, cylinder = self.text, e.get("station", "-"), e.get("cylinder") or "-"
        if event_type in self.counts:
            self.counts[event_type] += 1
        if event_type == "fill.completed":
            flags = "".join(f"（{describe(f, self.lang)}）" for f in e.get("flags", []))
            print(t["fill"].format(station=station, cylinder=cylinder, net=e["net_kg"], error=e["error_g"],
                                   flags=flags), flush=True)  # fmt: skip
        elif event_type == "fill.aborted":
            print(t["aborted"].format(station=station, cylinder=cylinder,
                                      reason=describe(e["reason"], self.lang)), flush=True)  # fmt: skip
        elif event_type == "interlock.refused":
            reasons = t["sep"].join(describe(r, self.lang) for r in e["reasons"])
            print(t["refused"].format(station=station, cylinder=cylinder, reasons=reasons), flush=True)
        elif event_type == "alarm.raised":
            print(
                t["alarm"].format(station=station, severity=e["severity"], message=e["message"]), flush=True
            )


def run(args: argparse.Namespace) -> int:
    from supervisor.commands.demo_live import run_live, serve_live_floor

    if args.serve_console:
        return serve_live_floor(args)
    if not args.headless:
        return run_live(args)
    return run_headless(args)


def run_headless(args: argparse.Namespace) -> int:
    from actors.floor_devices import DeviceActorFactory

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
    db = open_for(args)
    try:
        chain = verify_chain(db.engine)
    finally:
        db.close()
    counts = summary.counts
    if chain.ok:
        print(t["summary"].format(fills=counts["fill.completed"], aborted=counts["fill.aborted"],
                                  refused=counts["interlock.refused"], chain=chain.count))  # fmt: skip
    else:
        print(t["broken"].format(problem=chain.problem))
    print(t["files"].format(events=events, db=args.db or data_dir / "fillfloor.db"))
    return 0 if chain.ok else 1
