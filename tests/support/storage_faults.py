"""Storage faults for the tests: a database that refuses writes for a while.

`StorageFaults.attach(engine)` hooks the engine (a SQLAlchemy `before_cursor_execute` listener);
while a fault is on, every write statement raises what the driver itself raises for it, wrapped as
SQLAlchemy wraps it (`sqlalchemy.exc.OperationalError`): SQLite's "database or disk is full"
(SQLITE_FULL) or "disk I/O error" (SQLITE_IOERR), PostgreSQL's DiskFull ("could not extend file")
or an I/O error. Reads go on, as they do on a full disk. Nothing here is global: the switch is the
object a test made and attached to its own engine; the product never makes one.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

__all__ = ["FAULT_KINDS", "StorageFaults"]

FAULT_KINDS = ("disk_full", "io_error")
_WRITES = ("INSERT", "UPDATE", "DELETE")


def _driver_error(dialect: str, kind: str) -> Exception:
    """The driver's own exception for the fault, with its own text."""
    if dialect == "postgresql":
        import psycopg

        if kind == "disk_full":
            return psycopg.errors.DiskFull('could not extend file "base/16384/1639": No space left on device')
        return psycopg.OperationalError('could not write to file "pg_wal/xlogtemp.123": Input/output error')
    return sqlite3.OperationalError("database or disk is full" if kind == "disk_full" else "disk I/O error")


class StorageFaults:
    def __init__(self) -> None:
        self.kind: str | None = None  # the fault on now, or None
        self.refused = 0  # writes refused so far

    def start(self, kind: str) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"a storage fault is one of {FAULT_KINDS}, not {kind!r}")
        self.kind = kind

    def stop(self) -> None:
        self.kind = None

    def attach(self, engine: Engine) -> None:
        dialect = engine.dialect.name

        @event.listens_for(engine, "before_cursor_execute")
        def _refuse(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
            kind = self.kind
            if kind is not None and statement.lstrip().upper().startswith(_WRITES):
                self.refused += 1
                raise OperationalError(statement, params, _driver_error(dialect, kind))
