"""The platform's database: an engine, its tables, and one writer off the trio loop.

SQLite (the embedded default: WAL, synchronous=FULL, `BEGIN IMMEDIATE`, the floor's engine recipe
in `supervisor.storage.engine`) or PostgreSQL by URL, its schema from the platform's own migrations
(platform_server/migrate.py). Every database call of a request runs in a
worker thread, one at a time (a `CapacityLimiter(1)`): the loop never blocks, and a thread once
started finishes its transaction even if the request is cancelled, so a batch is committed whole
or not at all.

The store also holds the platform secret's seal (`key_seal`): the party keys in the database are
sealed under it, and a platform opened without it (`fillfloor platform export`) reads no key.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TypeVar

import trio
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from platform_server import schema as t
from platform_server.changes import ensure_head
from platform_server.key_seal import KeySeal, SecretProblem
from platform_server.migrate import upgrade
from platform_server.parties import check_seal, seal_plain_keys
from supervisor.storage.database import Database
from supervisor.storage.engine import make_engine

__all__ = ["PlatformStore", "open_store"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class PlatformStore(Database):
    """The platform's engine: the floor's `Database` (blocking `transaction`/`reading`), plus
    `write`/`read`, which run them in a worker thread, one at a time."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._limiter = trio.CapacityLimiter(1)
        self._seal: KeySeal | None = None

    @property
    def seal(self) -> KeySeal:
        """What seals and opens the party keys; only a store opened with the platform secret has it."""
        if self._seal is None:
            raise SecretProblem("this platform database was opened without the platform secret")
        return self._seal

    def use_seal(self, seal: KeySeal) -> None:
        """Take the platform secret's seal: keys stored in plain text by an older platform are sealed
        (and the database rewritten so that no free page or dead row keeps them), and every sealed
        key is opened once, so a wrong secret is a `SecretProblem` now, not a 401 for every party
        later."""
        with self.transaction() as conn:
            sealed_now = seal_plain_keys(conn, seal)
            check_seal(conn, seal)
        if sealed_now and (not_done := self.rewrite_party_keys()):
            log.warning("platform: %d plain key(s) sealed%s", sealed_now, not_done)
        self._seal = seal

    def rewrite_party_keys(self) -> str:
        """Rewrite what still holds keys an update left behind (plain ones, or ones sealed under a
        secret since rotated): "" when done, else why not. SQLite built with SECURE_DELETE (Debian's)
        zeroes them anyway, other builds keep them in free pages until the file is rewritten;
        PostgreSQL keeps the old row versions in the table's file until VACUUM FULL (a plain VACUUM
        only marks their space free). Its WAL segments and any earlier backup still hold them:
        docs/platform-api.md, "Keys at rest"."""
        dialect, problem = self.engine.dialect.name, ""
        try:
            # Both outside any transaction: on the driver's connection, or in autocommit.
            if dialect == "sqlite":
                with self.engine.connect() as conn:
                    raw = conn.connection.driver_connection
                    assert raw is not None
                    raw.execute("VACUUM")
                    # (a reader holding an old snapshot keeps the WAL: SQLite says so in a row)
                    if raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                        problem = "a reader kept the write-ahead log from being emptied"
            elif dialect == "postgresql":
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    # Queued behind an open transaction, VACUUM FULL would hold up every request's
                    # party lookup behind it: it gives up instead.
                    conn.execute(text("SET lock_timeout = '5s'"))
                    conn.execute(text(f"VACUUM FULL {t.party.name}"))
        except (SQLAlchemyError, sqlite3.Error) as exc:
            problem = str(getattr(exc, "orig", None) or exc)
        if not problem:
            return ""
        return (
            f"; the database could not be rewritten now ({problem}): the old key rows stay on disk until"
            f" it is (VACUUM on SQLite, VACUUM FULL {t.party.name} on PostgreSQL)"
        )

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


def open_store(db_url: str, seal: KeySeal | None) -> PlatformStore:
    """Open the platform database at `db_url`, migrated to the newest schema (a new database is
    created; one made before the platform had migrations is recognised: platform_server/migrate.py),
    with the platform secret's `seal` (`PlatformStore.use_seal`; None: no key is read or made)."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        ensure_head(conn)
    store = PlatformStore(engine)
    if seal is not None:
        try:
            store.use_seal(seal)
        except BaseException:
            store.close()
            raise
    return store
