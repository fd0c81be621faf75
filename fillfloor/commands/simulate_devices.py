"""`fillfloor simulate-devices --config fillfloor.toml`: simulators in place of a floor's devices,
for commissioning before the hardware arrives (the tool itself: `simulator.devices_command`)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate-devices",
        help="simulated scales, valves and scanners at a config's own addresses (commissioning)",
        description="Stand simulators in for every device of the config file, where the floor will "
        "look for them (Modbus TCP listeners, RS-485 buses and serial scanners on ptys linked at the "
        "configured paths, TCP scanners), then take line commands on stdin (help lists them).",
    )
    parser.add_argument("--config", type=Path, default=Path("fillfloor.toml"), metavar="FILE",
                        help="the config whose devices to simulate (default: ./fillfloor.toml)")  # fmt: skip
    parser.add_argument("--flow-kg-s", type=float, default=1.0, metavar="KG_S",
                        help="filling flow while a valve is open (default 1.0)")  # fmt: skip
    parser.add_argument("--valve-delay-ms", type=float, default=150.0, metavar="MS",
                        help="the valves' actuation delay (default 150)")  # fmt: skip
    parser.add_argument("--noise-g", type=float, default=2.0, metavar="G",
                        help="the scales' reading noise, standard deviation (default 2)")  # fmt: skip
    parser.add_argument("--events", type=Path, metavar="FILE",
                        help="also append the ground truth to FILE as JSON lines, each with its "
                        "wall time (`wall`, seconds since the epoch): when a valve really shut")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.devices_command import run as simulate

    return simulate(args)
