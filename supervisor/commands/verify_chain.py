"""`fillfloor verify-chain`: walk the fill hash chain (exit 1 naming the first bad record)."""

from __future__ import annotations

import argparse

from supervisor.commands import add_db_options
from supervisor.commands._db import database_for
from supervisor.storage.verify import verify_chain

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("verify-chain", help="check that no fill record is missing or altered")
    add_db_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with database_for(args) as db:
        report = verify_chain(db.engine)  # one consistent snapshot: safe while the floor writes
    if report.ok:
        print(f"fill chain intact: {report.count} record(s)")
        return 0
    print(f"fill chain BROKEN after {report.count} good record(s): {report.problem}")
    return 1
