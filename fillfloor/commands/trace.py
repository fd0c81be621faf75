"""`fillfloor trace CODE`: one cylinder's archive and history in time order."""

from __future__ import annotations

import argparse
import json

from domain.labels import safe_text
from fillfloor.commands import add_db_options
from fillfloor.commands._db import database_for
from supervisor.storage.trace import trace_cylinder

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="one cylinder's archive, inspections, checks, fills, refusals and accepted archive changes "
        "in time order",
    )
    parser.add_argument("code", metavar="CODE", help="the cylinder code (钢瓶条码号)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_db_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with database_for(args, read_only=True) as db, db.reading() as conn:
        archive, entries = trace_cylinder(conn, args.code)
    if args.json:
        doc = {
            "code": args.code,
            "archive": archive,
            "events": [{"at": e.at, "kind": e.kind, "summary": e.summary, **e.detail} for e in entries],
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
        return 0 if archive is not None or entries else 1
    if archive is None:
        print(f"{safe_text(args.code)}: no archive")
    else:
        a = archive
        print(
            f"{a['code']}  {a['model']}  owner {a['owner']}  tare {a['tare_kg']} kg  "
            f"status {a['status']}  next inspection {a['next_inspection'] or '-'}"
            + ("  blocked by the regulator" if a["blocked"] else "")
        )
    for e in entries:
        print(f"  {e.at:<32} {e.kind:<10} {e.summary}")
    if archive is None and not entries:
        return 1
    return 0
