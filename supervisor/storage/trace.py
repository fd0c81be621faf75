"""One cylinder's history in time order: the question a regulator asks (追溯)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, select

from supervisor.storage import schema as t
from supervisor.storage.archive_changes import FillTargetChange

__all__ = ["TraceEntry", "trace_cylinder"]


@frozen
class TraceEntry:
    at: str  # ISO 8601
    kind: str  # inspection | check | fill | refusal | change
    summary: str
    detail: dict[str, Any]


def _moment(at: str) -> dt.datetime:
    """Sort key: stored times may differ in precision or offset notation; a date is its midnight."""
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)  # unreadable: last, still shown
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _plain(row: Any) -> dict[str, Any]:
    return {
        k: (v if isinstance(v, int | float | str | list | dict | None) else str(v)) for k, v in row.items()
    }


def trace_cylinder(conn: Connection, code: str) -> tuple[dict[str, Any] | None, list[TraceEntry]]:
    """The archive (or None) and every event of the cylinder, oldest first."""
    row = conn.execute(select(t.cylinder).where(t.cylinder.c.code == code)).mappings().first()
    entries: list[TraceEntry] = []
    for r in conn.execute(select(t.inspection).where(t.inspection.c.cylinder_code == code)).mappings():
        entries.append(
            TraceEntry(
                str(r["inspected_on"]),
                "inspection",
                f"{r['result']} → next {r['next_inspection']}",
                _plain(r),
            )
        )
    for r in conn.execute(select(t.check_record).where(t.check_record.c.cylinder_code == code)).mappings():
        entries.append(
            TraceEntry(r["at"], "check", f"{r['phase']} {r['result']} by {r['checker']}", _plain(r))
        )
    for r in conn.execute(select(t.fill).where(t.fill.c.cylinder_code == code)).mappings():
        what = f"{r['outcome']} at {r['station']}"
        what += f", net {r['net_kg']} kg" if r["net_kg"] is not None else ""
        what += f", {r['reason']}" if r["reason"] else ""
        what += f" [{', '.join(r['flags'])}]" if r["flags"] else ""
        entries.append(TraceEntry(r["ended_at"], "fill", what, _plain(r)))
    for r in conn.execute(select(t.refusal).where(t.refusal.c.cylinder_code == code)).mappings():
        entries.append(
            TraceEntry(r["at"], "refusal", f"at {r['station']}: {', '.join(r['reasons'])}", _plain(r))
        )
    # A change of the fill target accepted at import: who accepted it and why.
    changes = select(t.archive_change).where(t.archive_change.c.cylinder_code == code)
    for r in conn.execute(changes.order_by(t.archive_change.c.id)).mappings():
        what = f"{FillTargetChange(code, r['field'], r['old_value'], r['new_value'])}, accepted by {r['who']}"
        entries.append(TraceEntry(r["at"], "change", f"{what}: {r['why']}", _plain(r)))
    archive = None
    if row is not None:
        photos = select(t.cylinder_photo.c.content_hash).where(t.cylinder_photo.c.cylinder_code == code)
        archive = {**_plain(row), "photos": list(conn.execute(photos.order_by("position")).scalars())}
    entries.sort(key=lambda e: _moment(e.at))  # stable: same-moment entries keep kind order
    return archive, entries
