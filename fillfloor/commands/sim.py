"""`fillfloor sim SCENARIO.toml --events OUT.jsonl`: a scripted run of a whole simulated floor.

The contract is docs/scenarios.md: exit 0 when the script
ran to its end, 2 for an invalid scenario (file, entry, problem), 1 for an internal error.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import trio

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run a scenario on a simulated floor (real protocols, real supervisor)",
        description="Run SCENARIO.toml on a whole simulated floor: simulated scales, valves and "
        "scanners over Modbus TCP/RTU and serial lines, the real supervisor on top, a fresh "
        "database; write every event as a JSON line.",
    )
    parser.add_argument(
        "scenario", type=Path, metavar="SCENARIO.toml", help="the scenario file (docs/scenarios.md)"
    )
    parser.add_argument("--events", type=Path, metavar="OUT.jsonl", default=Path("/dev/stdout"),
                        help="where the events go, one JSON object per line (default: stdout)")  # fmt: skip
    parser.add_argument("--db", metavar="URL", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--platform-db", metavar="URL",
                        help="keep the embedded platform's database here (platform scenarios)")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.runner import UnsupportedStep, run_scenario
    from simulator.scenario import load_scenario
    from supervisor.devices import DeviceActorFactory  # the real device actors

    scenario = load_scenario(args.scenario)  # an invalid scenario raises BadInput: exit 2
    try:
        trio.run(partial(run_scenario, scenario, args.events, args.db, DeviceActorFactory(),
                         platform_db_url=args.platform_db))  # fmt: skip
    except UnsupportedStep as exc:
        print(f"fillfloor: {exc}", file=sys.stderr)
        return 1
    return 0
