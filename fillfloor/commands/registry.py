"""`fillfloor registry import FILE`: cylinder archives from CSV or TOML, all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from domain.archive import CylinderArchive
from domain.labels import safe_text
from domain.rows import FieldError, archive_from_row
from fillfloor.commands import add_db_options
from fillfloor.commands._db import DEFAULT_CONFIG, database_for, floor_config
from fillfloor.commands._rows_file import read_rows
from supervisor.errors import BadInput
from supervisor.storage.archive_changes import (
    FillTargetChange,
    fill_target_changes,
    record_fill_target_changes,
)
from supervisor.storage.registry import load_archives
from supervisor.storage.repository import get_unit, import_archives, set_unit

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("registry", help="the local cylinder registry (档案)")
    sub = parser.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)
    imp = sub.add_parser(
        "import",
        help="import cylinder archives from CSV or TOML",
        description="Import cylinder archives. CSV: a header line with the [[cylinder]] field names "
        "of the scenario format; TOML: [[cylinder]] tables. Every row is checked first: any bad row "
        "and nothing is imported. Importing the same file again changes nothing; a regulator's block "
        "from the platform is kept. A changed tare or model of a cylinder already filled (its fill "
        "target) is refused unless accepted with --accept-changes --by NAME --why TEXT (recorded).",
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="a CSV (UTF-8, with a header line) or TOML file")
    unit_help = "this unit's code (default: the config's [unit]; stored on first import)"
    imp.add_argument("--unit", metavar="CODE", help=unit_help)
    imp.add_argument("--accept-changes", action="store_true",
                     help="accept the changed tares and models of cylinders already filled")  # fmt: skip
    imp.add_argument("--by", metavar="NAME", help="who accepts them (with --accept-changes)")
    imp.add_argument("--why", metavar="TEXT", help="why, e.g. tare re-stamped (with --accept-changes)")
    add_db_options(imp)
    imp.set_defaults(func=run_import)
    lst = sub.add_parser(
        "list",
        help="list the registry: code, model, tare, status, next inspection, blocked",
        description="The cylinder archives the floor decides its scans by, one line each, tab-separated "
        "(read-only: the database is opened for reading and never created).",
    )
    lst.add_argument("--status", help="only cylinders of this status (in_service, scrapped, ...)")
    add_db_options(lst)
    lst.set_defaults(func=run_list)


def validate(path: Path, unit: str) -> list[CylinderArchive]:
    problems: list[str] = []
    archives: list[CylinderArchive] = []
    seen: dict[str, int] = {}
    for line, row in read_rows(path, "cylinder"):
        try:
            archive = archive_from_row(row)
        except FieldError as exc:
            problems.append(f"{path}: line {line}: {exc}")
            continue
        if archive.owner != unit:
            problems.append(
                f"{path}: line {line}: owner: {archive.owner} is another unit's cylinder "
                f"(this unit is {unit}; a unit registers only its own property)"
            )
        if archive.code in seen:
            problems.append(f"{path}: line {line}: code: {archive.code} also on line {seen[archive.code]}")
        seen.setdefault(archive.code, line)
        archives.append(archive)
    if problems:
        raise BadInput(f"{len(problems)} bad row(s), nothing imported:\n  " + "\n  ".join(problems))
    return archives


def _acceptance(args: argparse.Namespace) -> tuple[str, str] | None:
    """Who accepts changed fill targets and why, when --accept-changes is given: both required."""
    if not args.accept_changes:
        if args.by is not None or args.why is not None:
            raise BadInput("--by and --why go with --accept-changes")
        return None
    for option, value, longest in (("--by", args.by, 64), ("--why", args.why, 1000)):
        if value is None or not value.strip():
            raise BadInput("--accept-changes needs --by NAME and --why TEXT: who accepts the changes and why")
        if not value.isprintable() or len(value) > longest:
            raise BadInput(f"{option}: printable text of at most {longest} characters, please")
    return args.by.strip(), args.why.strip()


def refuse_fill_target_changes(changes: list[FillTargetChange]) -> NoReturn:
    """A filled cylinder's tare or model is not changed without someone accepting it: its fill
    target (fill by weight against its own stamped tare: tare + the model's rated net) would move
    for every later fill."""
    by_cylinder: dict[str, list[str]] = {}
    for change in changes:
        by_cylinder.setdefault(change.cylinder, []).append(str(change))
    lines = [f"{code}: {', '.join(fields)}" for code, fields in by_cylinder.items()]
    raise BadInput(
        f"{len(lines)} cylinder(s) already filled would get another fill target, nothing imported:\n  "
        + "\n  ".join(lines)
        + "\nCheck the stamped marks; to accept: --accept-changes --by NAME --why TEXT (recorded)"
    )


def run_import(args: argparse.Namespace) -> int:
    acceptance = _acceptance(args)
    with database_for(args) as db, db.transaction() as conn:
        stored = get_unit(conn)
        if stored is not None and args.unit and args.unit != stored[0]:
            raise BadInput(f"--unit {args.unit}: this database belongs to unit {stored[0]}")
        config = floor_config(args)
        configured = config.unit.code if config is not None else None
        unit = args.unit or configured or (stored[0] if stored else None)
        if stored is not None and unit != stored[0]:
            where = f"unit {unit} of {args.config or DEFAULT_CONFIG}"
            raise BadInput(f"{where}: this database belongs to unit {stored[0]}")
        if unit is None:
            raise BadInput("which filling unit is this? give --unit CODE (stored on first import)")
        archives = validate(args.file, unit)
        changes = fill_target_changes(conn, archives)
        if changes:
            if acceptance is None:
                refuse_fill_target_changes(changes)
            record_fill_target_changes(conn, changes, *acceptance)
        set_unit(conn, unit)
        changed = import_archives(conn, archives)
    print(f"{len(archives)} cylinder(s) in {args.file}: {changed} new or changed, "
          f"{len(archives) - changed} unchanged")  # fmt: skip
    if changes and acceptance is not None:
        print(f"{len(changes)} change(s) of filled cylinders' tare or model accepted by {acceptance[0]}, "
              f"recorded (fillfloor trace CODE shows them)")  # fmt: skip
    return 0


def run_list(args: argparse.Namespace) -> int:
    with database_for(args, read_only=True) as db, db.reading() as conn:
        archives = load_archives(conn)
    print("code\tmodel\ttare_kg\tstatus\tnext_inspection\tblocked")
    shown = 0
    for code in sorted(archives):
        a = archives[code]
        if args.status is not None and a.status != args.status:
            continue
        tare = "" if a.tare_kg is None else str(a.tare_kg)
        nxt = "" if a.next_inspection is None else a.next_inspection.isoformat()
        blocked = "yes" if a.blocked else ""
        print(f"{safe_text(code)}\t{safe_text(a.model)}\t{tare}\t{a.status}\t{nxt}\t{blocked}")
        shown += 1
    print(f"{shown} cylinder(s)", file=sys.stderr)
    return 0
