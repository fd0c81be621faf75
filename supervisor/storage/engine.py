"""Engines: the embedded SQLite default or a URL (PostgreSQL), with SQLite made properly transactional.

SQLite runs in WAL mode with synchronous=FULL (durable on power loss; measured, docs/architecture.md: group
commit far above a floor's needs) and foreign keys on, set on every new connection.

Python's sqlite3 module (3.11) begins transactions itself, and only before INSERT/UPDATE/DELETE: DDL
then runs outside any transaction (a migration half done by a crash stays half done) and a
read-then-write transaction can fail with SQLITE_BUSY at once, busy_timeout or not, when another
process wrote in between. So the driver's own handling is switched off and SQLAlchemy's `begin`
emits the BEGIN (SQLAlchemy's documented pysqlite recipe): `BEGIN IMMEDIATE` takes the write lock up
front, waiting up to busy_timeout for it; connections marked `READ_ONLY` begin a plain deferred
transaction, which under WAL reads one consistent snapshot without blocking the writer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, make_url

__all__ = [
    "READ_ONLY",
    "SQLITE_FILE",
    "create_private",
    "database_url",
    "make_engine",
    "make_read_only_engine",
]

SQLITE_FILE = "fillfloor.db"
# Execution option of a connection that only reads (see Database.reading).
READ_ONLY = "fillfloor_read_only"


def database_url(db_url: str | None, data_dir: Path | str) -> str:
    """The URL to open: `db_url` when given, else the SQLite file in the data directory."""
    if db_url:
        return db_url
    directory = Path(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # records and keys: the owner's only
    return f"sqlite:///{(directory / SQLITE_FILE).resolve()}"


def create_private(path: Path) -> None:
    """Make `path` an empty file only its owner can read (0600), unless it exists; an existing one
    of ours and its -wal/-shm are narrowed to 0600. SQLite gives the -wal, -shm and journal files
    the database file's mode, so they are private too."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                if each.stat().st_uid == os.getuid() and each.stat().st_mode & 0o077:
                    each.chmod(0o600)


_READ_ONLY_SESSION = "-c default_transaction_read_only=on"


def make_read_only_engine(db_url: str | None, data_dir: Path | str = "data") -> Engine:
    """An engine that cannot change the database: for commands that only read (trace,
    verify-chain, a backup's check). Nothing is created: a SQLite file that is not there is a
    `FileNotFoundError` (a mistyped path must not become an empty database that checks "intact"),
    and the file is opened `mode=ro`, so a backup stays byte for byte as it was. PostgreSQL
    sessions are read-only transactions."""
    url = db_url or f"sqlite:///{(Path(data_dir) / SQLITE_FILE).resolve()}"
    if not url.startswith("sqlite"):
        # (the URL's own libpq options, a search_path say, kept: connect_args would replace them)
        parsed = make_url(url)
        given = parsed.query.get("options")
        options = " ".join([*([given] if isinstance(given, str) else given or ()), _READ_ONLY_SESSION])
        return create_engine(
            parsed.difference_update_query(["options"]), pool_pre_ping=True, connect_args={"options": options}
        )
    path = make_url(url).database
    if not path or path == ":memory:":
        raise ValueError(f"{url}: not a database file")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no database at {path}")
    engine = create_engine(f"sqlite:///file:{quote(str(Path(path).resolve()))}?mode=ro&uri=true")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None  # (BEGIN emitted below: one snapshot a transaction)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _sqlite_listeners(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see the module docstring
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching a fresh file to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(
    db_url: str | None, data_dir: Path | str = "data", *, busy_timeout_ms: int = 10_000
) -> Engine:
    """An engine for `db_url`, or for the SQLite file `data_dir/fillfloor.db` (directory created).

    `busy_timeout_ms`: how long a SQLite writer waits for another process's write lock.
    """
    url = database_url(db_url, data_dir)
    if url.startswith("sqlite"):
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            raise ValueError("an in-memory SQLite database is private to one thread: use a file")
        database = make_url(url).database
        if database and not database.startswith("file:"):
            create_private(Path(database))
        engine = create_engine(url)
        _sqlite_listeners(engine, busy_timeout_ms)
        return engine
    return create_engine(url, pool_pre_ping=True)
