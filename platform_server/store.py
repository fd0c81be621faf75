"""The platform's database: an engine, its tables, and one writer off the trio loop.

SQLite (the embedded default: WAL, synchronous=FULL, `BEGIN IMMEDIATE`, the floor's engine recipe
in `supervisor.storage.engine`) or PostgreSQL by URL, its schema from the platform's own migrations
(platform_server/migrate.py). Every database call of a request runs in a
worker thread, one at a time (a `CapacityLimiter(1)`): the loop never blocks, and a thread once
started finishes its transaction even if the request is cancelled, so a batch is committed whole
or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import trio
from sqlalchemy import Connection, Engine

from platform_server.changes import ensure_head
from platform_server.migrate import upgrade
from supervisor.storage.database import Database
from supervisor.storage.engine import make_engine

__all__ = ["PlatformStore", "open_store"]

T = TypeVar("T")


class PlatformStore(Database):
    """The platform's engine: the floor's `Database` (blocking `transaction`/`reading`), plus
    `write`/`read`, which run them in a worker thread, one at a time."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._limiter = trio.CapacityLimiter(1)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """`fn(conn)` in a write transaction in a worker thread; committed unless it raises."""

        def run() -> T:
            with self.transaction() as conn:
                return fn(conn)

        return await trio.to_thread.run_sync(run, limiter=self._limiter)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """`fn(conn)` on a consistent read-only snapshot in a worker thread."""

        def run() -> T:
            with self.reading() as conn:
                return fn(conn)

        return await trio.to_thread.run_sync(run, limiter=self._limiter)


def open_store(db_url: str) -> PlatformStore:
    """Open the platform database at `db_url`, migrated to the newest schema (a new database is
    created; one made before the platform had migrations is recognised: platform_server/migrate.py)."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        ensure_head(conn)
    return PlatformStore(engine)
