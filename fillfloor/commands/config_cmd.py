"""`fillfloor config check [FILE]`: read the config file as the floor would, and say what it holds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from supervisor.config import FloorConfig, load_config

__all__ = ["console_warning", "register"]


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


def console_warning(cfg: FloorConfig) -> str | None:
    """A console open beyond this machine without TLS: allowed (a closed plant network), warned."""
    host = cfg.console.listen.rsplit(":", 1)[0].strip("[]")
    if host in ("127.0.0.1", "localhost", "::1") or cfg.console.tls_cert:
        return None
    return (f"warning: [console] listen {cfg.console.listen} without tls_cert and tls_key: console tokens "
            "cross the network in clear (docs/operations/en/security.md)")  # fmt: skip


def run_check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    warning = console_warning(cfg)
    if warning is not None:
        print(f"fillfloor: {warning}", file=sys.stderr)
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
