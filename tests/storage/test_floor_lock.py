"""One floor per database: a second supervisor on the same database is refused, naming the first."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from supervisor.storage import open_database
from supervisor.storage.floor_lock import FloorLocked, floor_lock


def test_a_second_floor_on_the_same_database_is_refused_until_the_first_ends(db_url: str) -> None:
    first, second = open_database(db_url), open_database(db_url)  # (two engines: two processes' view)
    try:
        with floor_lock(first.engine):
            with pytest.raises(FloorLocked) as refused, floor_lock(second.engine):
                pass
            said = str(refused.value)
            assert "one floor per database" in said
            if db_url.startswith("sqlite"):
                assert f"pid {os.getpid()}" in said  # the first one, named
        with floor_lock(second.engine):  # released when the first ended
            pass
    finally:
        first.close()
        second.close()


def test_the_lock_file_is_the_owners_alone(sqlite_url: str) -> None:
    db = open_database(sqlite_url)
    try:
        with floor_lock(db.engine):
            lock = Path(f"{db.engine.url.database}.lock")
            assert stat.S_IMODE(lock.stat().st_mode) == 0o600
            assert lock.read_text().strip() == str(os.getpid())
    finally:
        db.close()
