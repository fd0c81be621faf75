"""Reading `[[cylinder]]` / `[[operator]]` rows from a CSV or TOML file, with line numbers."""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Iterator
from pathlib import Path

from supervisor.errors import BadInput

__all__ = ["read_rows"]


def _toml_table_lines(text: str, table: str) -> Iterator[int]:
    """Line numbers where each `[[table]]` starts (tomllib does not keep positions)."""
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip().replace(" ", "") == f"[[{table}]]":
            yield n


def read_rows(path: Path, table: str) -> list[tuple[int, dict[str, object]]]:
    """(line number, row) pairs from `path`: CSV with a header, or TOML `[[table]]` tables."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a BOM into UTF-8 CSV
    except UnicodeDecodeError as exc:
        # Excel on a Chinese Windows saves "CSV" as GBK: say how to save it instead.
        raise BadInput(
            f"{path}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8 "
            "(Excel: 另存为 → CSV UTF-8（逗号分隔）) and import it again"
        ) from None
    if path.suffix.lower() == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BadInput(f"{path}: invalid TOML: {exc}") from None
        extra = sorted(set(doc) - {table})
        if extra:
            raise BadInput(f"{path}: unexpected key(s) {', '.join(extra)}: only [[{table}]] tables")
        rows = doc.get(table, [])
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadInput(f"{path}: {table} must be [[{table}]] tables")
        return list(zip(_toml_table_lines(text, table), rows, strict=False))
    if path.suffix.lower() != ".csv":
        raise BadInput(f"{path}: expected a .csv or .toml file")
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise BadInput(f"{path}: empty file, expected a header line")
    out: list[tuple[int, dict[str, object]]] = []
    for row in reader:
        if None in row:
            raise BadInput(f"{path}: line {reader.line_num}: more values than header columns")
        out.append((reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}))
    return out
