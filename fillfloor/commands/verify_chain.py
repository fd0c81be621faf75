"""`fillfloor verify-chain`: walk the fill chain and the record chain (exit 1 naming each bad record)."""

from __future__ import annotations

import argparse

from fillfloor.commands import add_db_options
from fillfloor.commands._db import database_for
from supervisor.storage.verify import ChainReport, verify_chain, verify_record_chain

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify-chain",
        help="check that no fill, check, refusal, alarm or console audit record is missing or altered",
    )
    add_db_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with database_for(args, read_only=True) as db:
        # Each chain in one consistent snapshot: safe while the floor writes.
        reports = {"fill": verify_chain(db.engine), "record": verify_record_chain(db.engine)}
    for chain, report in reports.items():
        _print(chain, report)
    return 0 if all(r.ok for r in reports.values()) else 1


def _print(chain: str, report: ChainReport) -> None:
    if report.ok:
        print(f"{chain} chain intact: {report.count} record(s)")
        return
    print(f"{chain} chain BROKEN after {report.count} good record(s): {report.problem}")
    for problem in report.problems[1:]:
        print(f"  {problem}")
