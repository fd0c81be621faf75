"""`fillfloor config check [FILE]`: read the config file as the floor would, and say what it holds."""

from __future__ import annotations

import argparse
from pathlib import Path

from supervisor.config import load_config

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="the floor's configuration file")
    sub = parser.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = sub.add_parser(
        "check",
        help="check a config file (exit 2 naming the key and the problem)",
        description="Read the config file exactly as the floor would; print a summary when it is "
        "valid, or the file, the key and the problem (exit status 2) when it is not.",
    )
    check.add_argument("file", nargs="?", type=Path, default=Path("fillfloor.toml"), metavar="FILE",
                       help="the config file (default: ./fillfloor.toml)")  # fmt: skip
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    stations = ", ".join(
        f"{s.id} ({s.cutoff} cut-off, scale {s.scale.protocol}, valve {s.valve.protocol}, "
        f"scanner {s.scanner.kind})"
        for s in cfg.stations
    )
    platform = cfg.platform.url if cfg.platform else "none (offline floor)"
    print(
        f"{args.file}: OK. Unit {cfg.unit.code} {cfg.unit.short_name}; {len(cfg.stations)} station(s): "
        f"{stations}; {len(cfg.rules.models)} cylinder model(s); console on {cfg.console.listen}; "
        f"platform {platform}."
    )
    return 0
