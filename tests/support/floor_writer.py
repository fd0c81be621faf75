"""A floor's records being written in another process: `python -m tests.support.floor_writer URL STOP_FILE`.

Commits one fill and one check per transaction, as the station's writer does, and prints each fill's
sequence number once it is committed, until STOP_FILE exists. For tests of what reads the database
while the floor writes (tests/storage/test_db_backup.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from supervisor.storage import CheckRecord, open_database
from supervisor.storage.repository import store
from tests.support.fill_records import fill


def main(url: str, stop: Path) -> None:
    db = open_database(url)
    n = 0
    with db.engine.connect() as conn:
        # The floor's records stay in the write-ahead log (as the newest ones always do between two
        # checkpoints; here all of them), so a copy of the database file alone would miss them.
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
    try:
        while not stop.exists():
            n += 1
            with db.transaction() as conn:
                store(conn, fill(n))
                store(conn, CheckRecord(
                    record_id=f"check-{n}", cylinder="HY00120000123", phase="post", result="pass",
                    checker="C01", items={"leak": "none"}, at="2026-11-23T08:00:00.000+00:00", station="S1",
                ))  # fmt: skip
            print(n, flush=True)
    finally:
        db.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
