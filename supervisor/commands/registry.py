"""`fillfloor registry import FILE`: cylinder archives from CSV or TOML, all or nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from domain.archive import CylinderArchive
from domain.rows import FieldError, archive_from_row
from supervisor.commands import add_db_options
from supervisor.commands._db import database_for
from supervisor.commands._rows_file import read_rows
from supervisor.errors import BadInput
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
        "and nothing is imported. Importing the same file again changes nothing.",
    )
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--unit", metavar="CODE", help="this filling unit's code (stored on first import)")
    add_db_options(imp)
    imp.set_defaults(func=run_import)


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


def run_import(args: argparse.Namespace) -> int:
    with database_for(args) as db, db.transaction() as conn:
        stored = get_unit(conn)
        if stored is not None and args.unit and args.unit != stored[0]:
            raise BadInput(f"--unit {args.unit}: this database belongs to unit {stored[0]}")
        unit = args.unit or (stored[0] if stored else None)
        if unit is None:
            raise BadInput("which filling unit is this? give --unit CODE (stored on first import)")
        archives = validate(args.file, unit)
        set_unit(conn, unit)
        changed = import_archives(conn, archives)
    print(f"{len(archives)} cylinder(s) in {args.file}: {changed} new or changed, "
          f"{len(archives) - changed} unchanged")  # fmt: skip
    return 0
