"""The registry change log: what the floors pull by cursor to keep their local registry current.

Each change concerns one unit and carries the new state, not a difference: an `archive` change
holds the whole archive, so applying changes in order is an upsert, and applying one twice is
harmless. Types (docs/platform-api.md, "Registry changes"): `archive`, `inspection`, `operator`,
`station`, `unit`. Numbers come from `change_head`, locked in the writing transaction, so they
commit in order: a reader that has seen N never later finds a new change below N.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from platform_server import schema as t

__all__ = ["append_change", "changes_after", "ensure_head", "json_value", "latest_seq"]


def json_value(value: Any) -> Any:
    """Dates as ISO 8601, masses as normalised decimal strings (as the floor's outbox sends them)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def ensure_head(conn: Connection) -> None:
    if conn.execute(select(t.change_head.c.id)).first() is None:
        conn.execute(insert(t.change_head).values(id=1, seq=0))


def append_change(
    conn: Connection, unit: str, type_: str, cause: str, data: Mapping[str, Any], at: str
) -> int:
    """Log one change in the caller's transaction; returns its number."""
    q = select(t.change_head.c.seq).where(t.change_head.c.id == 1).with_for_update()
    seq = conn.execute(q).scalar_one() + 1
    conn.execute(
        insert(t.change).values(seq=seq, unit=unit, type=type_, cause=cause, data=json_value(data), at=at)
    )
    conn.execute(update(t.change_head).where(t.change_head.c.id == 1).values(seq=seq))
    return seq


def latest_seq(conn: Connection, unit: str | None = None) -> int:
    """The newest change number (of `unit` when given): a reader whose cursor is there is current."""
    q = select(func.coalesce(func.max(t.change.c.seq), 0))
    if unit is not None:
        q = q.where(t.change.c.unit == unit)
    return int(conn.execute(q).scalar_one())


def changes_after(
    conn: Connection, cursor: int, limit: int, unit: str | None
) -> tuple[list[dict[str, Any]], int, bool]:
    """Up to `limit` changes after `cursor` (of `unit` when given), the next cursor, and whether
    more are waiting. With nothing new the cursor stays where it was."""
    q = select(t.change).where(t.change.c.seq > cursor)
    if unit is not None:
        q = q.where(t.change.c.unit == unit)
    rows = conn.execute(q.order_by(t.change.c.seq).limit(limit + 1)).mappings().all()
    more = len(rows) > limit
    changes = [
        {
            "seq": r["seq"],
            "type": r["type"],
            "cause": r["cause"],
            "unit": r["unit"],
            "at": r["at"],
            "data": r["data"],
        }
        for r in rows[:limit]
    ]
    return changes, (changes[-1]["seq"] if changes else cursor), more
