"""Cylinder holds, stored: a hold written when it begins and deleted when it ends, so that the
floor rebuilds them at start (a restart must not forget an overfill or a failed post-fill check)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from domain.holds import Hold
from domain.records import HoldRecord
from supervisor.storage import schema as t

__all__ = ["load_holds", "record_hold"]


def record_hold(conn: Connection, record: HoldRecord) -> None:
    h = t.cylinder_hold.c
    where = (h.cylinder_code == record.cylinder) & (h.kind == record.kind)
    if not record.held:
        conn.execute(delete(t.cylinder_hold).where(where))
    elif conn.execute(select(h.kind).where(where)).first() is None:  # (offered again: held already)
        row = {"cylinder_code": record.cylinder, "kind": record.kind, "since": record.at,
               "station": record.station, "fill_record_id": record.fill_record_id}  # fmt: skip
        conn.execute(insert(t.cylinder_hold), [row])


def load_holds(conn: Connection) -> list[tuple[Hold, str]]:
    """Every standing hold, as (kind, cylinder code)."""
    h = t.cylinder_hold.c
    return [(Hold(str(kind)), str(code)) for code, kind in conn.execute(select(h.cylinder_code, h.kind))]
