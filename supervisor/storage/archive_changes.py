"""Changes of a filled cylinder's fill target, as an import would make them, and their record.

The fill target is the archived tare plus the model's rated net (domain.filling): an import that
changes the tare or the model of a cylinder that has been filled here moves every later fill's
target, so it is not taken silently. `fillfloor registry import` refuses it unless someone accepts
it; then each field's change is kept in `archive_change` with who, why and when. A cylinder never
filled may change freely: nothing filled to its old target.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from attrs import frozen
from sqlalchemy import Connection, insert, select

from domain.archive import CylinderArchive
from domain.times import utc_now
from supervisor.storage import schema as t
from supervisor.storage.registry import load_archives

__all__ = ["FillTargetChange", "fill_target_changes", "record_fill_target_changes"]

# The database keeps a tare to the gram: a finer difference is the same tare as stored.
_GRAM = Decimal("0.001")
_CODES_A_QUERY = 500


@frozen
class FillTargetChange:
    cylinder: str
    field: str  # model | tare_kg
    old: str | None  # as shown and kept; None: there was none (an unknown tare)
    new: str | None

    def __str__(self) -> str:
        return f"{self.field} {self.old or 'none'} → {self.new or 'none'}"


def _kg(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def _changes(current: CylinderArchive, new: CylinderArchive) -> list[FillTargetChange]:
    out = []
    if current.model != new.model:
        out.append(FillTargetChange(new.code, "model", current.model, new.model))
    old_tare, new_tare = current.tare_kg, new.tare_kg
    if (old_tare is None) != (new_tare is None) or (
        old_tare is not None and new_tare is not None and abs(old_tare - new_tare) >= _GRAM
    ):
        out.append(FillTargetChange(new.code, "tare_kg", _kg(old_tare), _kg(new_tare)))
    return out


def _filled(conn: Connection, codes: Sequence[str]) -> set[str]:
    """Which of `codes` have a fill record (of any outcome), asked a few hundred at a time (a whole
    registry re-stamped is one import, and a statement's parameters are limited)."""
    filled: set[str] = set()
    for start in range(0, len(codes), _CODES_A_QUERY):
        some = codes[start : start + _CODES_A_QUERY]
        q = select(t.fill.c.cylinder_code).where(t.fill.c.cylinder_code.in_(some)).distinct()
        filled.update(conn.execute(q).scalars())
    return filled


def fill_target_changes(conn: Connection, archives: Iterable[CylinderArchive]) -> list[FillTargetChange]:
    """What importing `archives` would change of the tare or model of cylinders already filled, in
    the archives' order (model before tare for one cylinder)."""
    stored = load_archives(conn)
    changes = [c for a in archives if a.code in stored for c in _changes(stored[a.code], a)]
    filled = _filled(conn, sorted({c.cylinder for c in changes})) if changes else set()
    return [c for c in changes if c.cylinder in filled]


def record_fill_target_changes(
    conn: Connection, changes: Sequence[FillTargetChange], who: str, why: str
) -> None:
    """Keep the accepted changes, each with who accepted it, why and when (one time for them all)."""
    if not changes:
        return
    at = utc_now()
    conn.execute(
        insert(t.archive_change),
        [{"cylinder_code": c.cylinder, "field": c.field, "old_value": c.old, "new_value": c.new,
          "who": who, "why": why, "at": at} for c in changes],
    )  # fmt: skip
