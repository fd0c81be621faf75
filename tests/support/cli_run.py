"""The command line run as a user runs it, and the registry rows and fills its tests start from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fillfloor.cli import main
from supervisor.storage import FillRecord, open_database
from supervisor.storage.repository import store

HEADER = "code,owner,model,tare_kg,manufactured,last_inspection,next_inspection,status\n"
GOOD = [
    "HY00120000123,HY0012,YSP35.5,15.2,2019-05-01,2023-06-01,2027-06-01,in_service\n",
    "HY00120000124,HY0012,YSP35.5,15.0,2017-03-01,2021-03-01,2025-03-01,in_service\n",
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`fillfloor ARGV...` in this process: its exit status, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def store_fills(db_url: str, n: int) -> None:
    """Fills rec-1 .. rec-n of HY00120000123, stored as the floor stores them."""
    db = open_database(db_url)
    with db.transaction() as conn:
        for i in range(1, n + 1):
            store(conn, FillRecord(record_id=f"rec-{i}", cylinder="HY00120000123", station="S1",
                                   operator="OP01", outcome="completed",
                                   started_at="2026-11-23T08:00:00+00:00",
                                   ended_at="2026-11-23T08:01:00+00:00", net_kg=Decimal("14.5")))  # fmt: skip
    db.close()
