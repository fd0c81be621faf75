"""`fillfloor operators import FILE`: filling operators (充装工) from CSV or TOML, all or nothing."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from domain.archive import Operator
from domain.labels import safe_text
from domain.rows import FieldError, operator_from_row
from fillfloor.commands import add_db_options
from fillfloor.commands._db import database_for
from fillfloor.commands._rows_file import read_rows
from supervisor.errors import BadInput
from supervisor.storage.registry import load_operators
from supervisor.storage.repository import upsert_operators

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("operators", help="filling operators and their certificates")
    sub = parser.add_subparsers(dest="operators_command", metavar="COMMAND", required=True)
    imp = sub.add_parser(
        "import",
        help="import operators from CSV or TOML",
        description="Import operators (id = badge, name, certificate_expires, certificate_no). "
        "Every row is checked first: any bad row and nothing is imported.",
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="a CSV (UTF-8, with a header line) or TOML file")
    add_db_options(imp)
    imp.set_defaults(func=run_import)
    lst = sub.add_parser(
        "list",
        help="list the operators: badge, name, certificate expiry",
        description="The operators the floor knows, one line each, tab-separated; an expired "
        "certificate is marked (read-only: the database is opened for reading and never created).",
    )
    add_db_options(lst)
    lst.set_defaults(func=run_list)


def run_import(args: argparse.Namespace) -> int:
    problems: list[str] = []
    operators: list[Operator] = []
    seen: dict[str, int] = {}
    for line, row in read_rows(args.file, "operator"):
        try:
            op = operator_from_row(row)
        except FieldError as exc:
            problems.append(f"{args.file}: line {line}: {exc}")
            continue
        if op.id in seen:
            problems.append(f"{args.file}: line {line}: id: {op.id} also on line {seen[op.id]}")
        seen.setdefault(op.id, line)
        operators.append(op)
    if problems:
        raise BadInput(f"{len(problems)} bad row(s), nothing imported:\n  " + "\n  ".join(problems))
    with database_for(args) as db, db.transaction() as conn:
        changed = upsert_operators(conn, operators)
    print(f"{len(operators)} operator(s) in {args.file}: {changed} new or changed")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with database_for(args, read_only=True) as db, db.reading() as conn:
        operators = load_operators(conn)
    today = dt.date.today()
    print("id\tname\tcertificate_expires\texpired")
    for op_id in sorted(operators):
        op = operators[op_id]
        expired = "yes" if op.certificate_expires <= today else ""
        print(f"{safe_text(op.id)}\t{safe_text(op.name)}\t{op.certificate_expires.isoformat()}\t{expired}")
    print(f"{len(operators)} operator(s)", file=sys.stderr)
    return 0
