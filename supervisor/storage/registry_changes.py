"""The registry's change counter: one row, bumped in the transaction of every change to the
cylinder archives or the operators, whoever makes it (an import on the command line, the platform
sync). A running floor polls it (supervisor/registry_watch.py) and reloads the registry when it
moved: one small read a poll, not the whole registry."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from supervisor.storage import schema as t

__all__ = ["bump_registry_changes", "registry_changes"]

_ROW = 1


def bump_registry_changes(conn: Connection) -> None:
    c = t.registry_change.c
    bumped = conn.execute(update(t.registry_change).where(c.id == _ROW).values(count=c.count + 1))
    if bumped.rowcount == 0:  # (a database made from the tables, not by the migration)
        conn.execute(insert(t.registry_change).values(id=_ROW, count=1))


def registry_changes(conn: Connection) -> int:
    """How many changes so far (0 on a registry never changed)."""
    c = t.registry_change.c
    return int(conn.execute(select(c.count).where(c.id == _ROW)).scalar_one_or_none() or 0)
