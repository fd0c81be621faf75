"""One floor per database: the lock a running `fillfloor serve` holds on its database.

Two supervisors on one database would drive the same valves from two processes and write one
chain from two ends, and the second's start would record the first's fills under way as
interrupted. So `serve` takes this lock right after opening the database and before anything else,
and a second one exits naming the first.

SQLite: an exclusive `flock` on `<database file>.lock` (mode 0600), holding the owner's pid so the
refusal can name it. PostgreSQL: a session-level advisory lock on a connection kept open for the
run. Either is released by the kernel or the server when the process ends however it ends (a
SIGKILL included), so a crashed floor never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from supervisor.errors import BadInput

__all__ = ["FloorLocked", "floor_lock"]

# PostgreSQL: the lock is (this number, the schema's name hashed): one floor per schema, so that
# floors in different schemas of one server do not exclude each other. The number is any fixed
# 32-bit one ("floo" in ASCII), the same in every fillfloor process.
_PG_LOCK_SPACE = 0x666C6F6F
_PG_TRY = "SELECT pg_try_advisory_lock(:space, hashtext(current_schema()))"
_PG_UNLOCK = "SELECT pg_advisory_unlock(:space, hashtext(current_schema()))"
_PG_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    "AND classid = CAST(:space AS oid) AND objid = CAST(CAST(hashtext(current_schema()) AS bigint) "
    "& 4294967295 AS oid)"
)


class FloorLocked(BadInput):
    """Another supervisor runs on this database."""


@contextlib.contextmanager
def floor_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's floor lock for the block; `FloorLocked` if another process holds it."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database:
            raise ValueError(f"{engine.url}: not a database file")
        with _file_lock(Path(f"{Path(database).resolve()}.lock")):
            yield
        return
    with engine.connect() as conn:
        if not conn.execute(text(_PG_TRY), {"space": _PG_LOCK_SPACE}).scalar():
            holder = conn.execute(text(_PG_HOLDER), {"space": _PG_LOCK_SPACE}).scalar()
            raise FloorLocked(
                f"another fillfloor serve runs on this database ({engine.url.render_as_string()}; "
                f"PostgreSQL backend pid {holder}): one floor per database"
            )
        conn.commit()  # (the lock is the session's, not a transaction's)
        try:
            yield
        finally:
            conn.execute(text(_PG_UNLOCK), {"space": _PG_LOCK_SPACE})
            conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip() or "?"
            raise FloorLocked(
                f"another fillfloor serve (pid {owner}) runs on {path.with_suffix('')}: one floor per "
                f"database (its lock: {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # (closing releases the flock)
