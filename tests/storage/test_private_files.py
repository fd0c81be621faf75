"""The floor's and the platform's databases, their WAL and shared-memory files and backups are
readable by their owner only (0600, in a 0700 data directory), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from platform_server import open_store
from supervisor.storage.backup import backup_sqlite
from supervisor.storage.engine import SQLITE_FILE, make_engine


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # a service's usual umask: files 0644 unless made private
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_floor_database_its_wal_and_its_backup_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(None, data)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        db = data / SQLITE_FILE
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        assert [(f.name, _mode(f)) for f in files] == [(f.name, 0o600) for f in files]
        assert _mode(data) == 0o700
        copy = backup_sqlite(db, tmp_path / "backup.db").path
        assert _mode(copy) == 0o600
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / SQLITE_FILE
    db.touch(mode=0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600


def test_the_platform_database_is_private(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'platform.db'}", None)
    store.close()
    assert _mode(tmp_path / "platform.db") == 0o600
