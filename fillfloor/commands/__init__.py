"""The CLI's commands, one module each. `register_all` adds them to the `fillfloor` tree."""

from __future__ import annotations

import argparse
import importlib

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
    """`--db URL` / `--data-dir DIR`, taken by every command that touches the database."""
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in --data-dir)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default="data",
        help="data directory of the embedded SQLite database (default: ./data)",
    )


def register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(f"fillfloor.commands.{name}").register(subparsers)
