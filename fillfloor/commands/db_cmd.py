"""`fillfloor db backup --to FILE`: a consistent copy of a running floor's database.

The floor keeps running and filling while the copy is made (supervisor/storage/backup.py says how).
The copy is checked before it is reported: its fill chain is walked, as `verify-chain` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import create_engine, make_url

from fillfloor.commands import add_db_options
from fillfloor.commands._db import database_location, floor_config
from supervisor.storage.backup import BackupResult, backup_postgresql, backup_sqlite
from supervisor.storage.engine import database_url
from supervisor.storage.verify import ChainReport, verify_chain

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("db", help="the floor's database: backup")
    sub = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    backup = sub.add_parser(
        "backup",
        help="back up the database while the floor runs (SQLite: online backup; PostgreSQL: pg_dump)",
        description="Writes a consistent copy of the database to a new FILE while the floor keeps "
        "running: SQLite through its online backup API (a single file; restore by copying it back "
        "as fillfloor.db while the floor is stopped), PostgreSQL with pg_dump --format=custom "
        "(restore with pg_restore). An existing FILE is never overwritten.",
    )
    backup.add_argument("--to", required=True, type=Path, metavar="FILE", help="the new backup file")
    add_db_options(backup)
    backup.set_defaults(func=run_backup)


def run_backup(args: argparse.Namespace) -> int:
    url = database_url(*database_location(args, floor_config(args)))
    if make_url(url).get_backend_name() == "postgresql":
        result = backup_postgresql(url, args.to)
        print(f"backup written: {result.path} ({_size(result)}, pg_dump custom format; "
              "restore with pg_restore)")  # fmt: skip
        return 0
    result = backup_sqlite(Path(make_url(url).database or ""), args.to)
    report = _chain_of(result.path)
    if report.ok:
        print(f"backup written: {result.path} ({_size(result)}); fill chain intact: {report.count} record(s)")
        return 0
    # The copy is faithful: the database itself holds the broken chain (verify-chain says the same).
    print(f"backup written: {result.path} ({_size(result)}); fill chain BROKEN after {report.count} "
          f"good record(s): {report.problem}")  # fmt: skip
    return 1


def _chain_of(path: Path) -> ChainReport:
    # Plain read of the copy, not open_database: checking a backup must not migrate it.
    engine = create_engine(f"sqlite:///{path.resolve()}")
    try:
        return verify_chain(engine)
    finally:
        engine.dispose()


def _size(result: BackupResult) -> str:
    return f"{result.size_bytes:,} bytes"
