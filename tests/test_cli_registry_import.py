"""`fillfloor registry import` again over what the floor already knows: the regulator's block from
the platform outlives a re-import, and a re-import never silently moves a filled cylinder's fill
target (its tare or model) unless someone accepts the change, on the record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from domain.archive import CylinderArchive
from domain.eligibility import eligibility_reasons
from domain.settings import DomainSettings
from platform_client.registry_changes import read_change
from platform_client.sync_store import SyncStore
from supervisor.storage import open_database
from supervisor.storage.repository import load_archives
from tests.test_cli_records import GOOD, HEADER, run

UNIT, CODE = "HY0012", "HY00120000123"
TODAY = dt.date(2026, 11, 23)


def _platform_archive(seq: int, *, blocked: bool) -> dict[str, Any]:
    """The registry change the platform sends when the regulator blocks or unblocks the cylinder."""
    data = {
        "code": CODE, "owner": UNIT, "model": "YSP35.5", "tare_kg": "15.2", "manufactured": "2019-05-01",
        "last_inspection": "2023-06-01", "next_inspection": "2027-06-01", "status": "in_service",
        "blocked": blocked, "photos": ["ab" * 32],
    }  # fmt: skip
    cause = "regulator_block" if blocked else "regulator_unblock"
    return {"seq": seq, "type": "archive", "cause": cause, "unit": UNIT, "at": "2026-11-23T00:00:00Z",
            "data": data}  # fmt: skip


async def _from_platform(url: str, change: dict[str, Any]) -> None:
    """Apply one registry change as the platform sync stores it."""
    db = open_database(url)
    try:
        update = read_change(change, UNIT)
        assert update is not None
        await SyncStore(db).apply([update], change["seq"])
    finally:
        db.close()


def _as_the_floor_loads_it(url: str) -> CylinderArchive:
    """The cylinder's archive as `fillfloor serve` loads it at start."""
    db = open_database(url)
    try:
        with db.reading() as conn:
            return load_archives(conn)[CODE]
    finally:
        db.close()


def _refused_for(archive: CylinderArchive) -> list[str]:
    return [str(r) for r in eligibility_reasons(archive, UNIT, TODAY, DomainSettings())]


async def test_a_regulators_block_outlives_a_reimport_and_only_the_platform_lifts_it(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cyl.csv"
    f.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    assert run(capsys, "registry", "import", str(f), "--unit", UNIT, "--db", db_url)[0] == 0
    await _from_platform(db_url, _platform_archive(1, blocked=True))
    assert _refused_for(_as_the_floor_loads_it(db_url)) == ["cylinder.blocked"]

    code, _, err = run(capsys, "registry", "import", str(f), "--db", db_url)
    assert code == 0, err
    reloaded = _as_the_floor_loads_it(db_url)
    assert _refused_for(reloaded) == ["cylinder.blocked"]  # still blocked
    assert reloaded.photos == ("ab" * 32,)  # and the platform's photos are still there

    await _from_platform(db_url, _platform_archive(2, blocked=False))
    assert _refused_for(_as_the_floor_loads_it(db_url)) == []
