"""The CLI's commands, one module each. `register_all` adds them to the `fillfloor` tree."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

__all__ = ["add_db_options", "register_all"]

# Order is the order `fillfloor --help` lists them in.
_COMMAND_MODULES = (
    "demo",
    "sim",
    "serve",
    "simulate_devices",
    "console_cmd",
    "config_cmd",
    "registry",
    "operators",
    "trace",
    "verify_chain",
    "db_cmd",
    "users_cmd",
    "platform_cmd",
)


def add_db_options(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`, `--db URL` / `--data-dir DIR`, taken by every command that touches the
    floor's data: the floor's database is the one its config names ([storage]), as for `serve`."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the floor's config file: its [storage] and [unit] are used where --db, --data-dir and "
        "--unit do not say otherwise (default: ./fillfloor.toml when there is one)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL, e.g. postgresql+psycopg://user@host/db (default: the config's [storage] "
        "db, else SQLite in --data-dir)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory of the embedded SQLite database (default: the config's [storage] "
        "data_dir, else ./data)",
    )


def register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"fillfloor.commands.{name}").register(subparsers)
