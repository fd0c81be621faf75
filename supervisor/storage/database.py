"""An opened, migrated database: write transactions and consistent read snapshots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from supervisor.storage.engine import READ_ONLY, make_engine, make_read_only_engine
from supervisor.storage.migrate import current_revision, head_revision, upgrade

__all__ = ["Database", "open_database", "open_read_only", "read_snapshot"]


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one consistent state of the whole database.

    PostgreSQL's default (read committed) takes a new snapshot per statement: a fill committed
    between reading the fills and reading the chain head would look like a missing record.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:
            conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield conn


class Database:
    """The engine of a migrated database. Its methods block: call them off the trio loop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A consistent read-only snapshot (see `read_snapshot`)."""
        with read_snapshot(self.engine) as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def open_database(
    db_url: str | None, data_dir: Path | str = "data", *, busy_timeout_ms: int = 10_000
) -> Database:
    """Open (creating if needed) and migrate to the newest schema; a no-op when up to date.

    Safe when several processes open the same new database at once: migrations run under a lock.
    """
    engine = make_engine(db_url, data_dir, busy_timeout_ms=busy_timeout_ms)
    try:
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                upgrade(engine)
                break
            except OperationalError as exc:
                # SQLite answers "database is locked" at once, busy_timeout or not, in a few corners
                # of several processes creating one new file together (seen once in a full suite
                # run on a loaded machine, tests/storage/test_storage_schema.py); the migration is one
                # transaction: try it again.
                if "locked" not in str(exc) or attempt == _OPEN_ATTEMPTS - 1:
                    raise
                engine.dispose()
                time.sleep(0.2 * (attempt + 1))
    except BaseException:
        engine.dispose()
        raise
    return Database(engine)


_OPEN_ATTEMPTS = 3


def open_read_only(db_url: str | None, data_dir: Path | str = "data") -> Database:
    """Open an existing database to read, changing nothing (no file made, no migration run).
    A database whose schema is not this build's is refused, naming both revisions."""
    engine = make_read_only_engine(db_url, data_dir)
    try:
        _check_revision(engine)
    except BaseException:
        engine.dispose()
        raise
    return Database(engine)


def _check_revision(engine: Engine) -> None:
    found, expected = current_revision(engine), head_revision()
    if found != expected:
        what = "not a fillfloor database" if found is None else f"its schema is at revision {found}"
        raise ValueError(
            f"{engine.url.render_as_string(hide_password=True)}: {what}; this fillfloor reads "
            f"revision {expected} (open it once with this version's `fillfloor serve` to upgrade it)"
        )
