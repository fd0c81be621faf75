"""`fillfloor registry import` again over what the floor already knows: the regulator's block from
the platform outlives a re-import, and a re-import never silently moves a filled cylinder's fill
target (its tare or model) unless someone accepts the change, on the record."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
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
from tests.support.cli_run import GOOD, HEADER, run, store_fills

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
    assert "blocked by the regulator" in run(capsys, "trace", CODE, "--db", db_url)[1]

    await _from_platform(db_url, _platform_archive(2, blocked=False))
    assert _refused_for(_as_the_floor_loads_it(db_url)) == []


RESTAMPED = [  # the first cylinder re-stamped and of another model; the second's tare corrected
    "HY00120000123,HY0012,YSP26.2,15.4,2019-05-01,2023-06-01,2027-06-01,in_service\n",
    "HY00120000124,HY0012,YSP35.5,15.1,2017-03-01,2021-03-01,2025-03-01,in_service\n",
]


def _imported(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *rows: str) -> None:
    f = tmp_path / "first.csv"
    f.write_text(HEADER + "".join(rows), encoding="utf-8")
    assert run(capsys, "registry", "import", str(f), "--unit", UNIT, "--db", db_url)[0] == 0


def _tare(db_url: str, capsys: pytest.CaptureFixture[str], code: str) -> str:
    out = run(capsys, "trace", code, "--json", "--db", db_url)[1]
    return str(Decimal(json.loads(out)["archive"]["tare_kg"]).normalize())


def test_a_reimport_changing_a_filled_cylinders_tare_or_model_is_refused_naming_each_change(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _imported(db_url, tmp_path, capsys, *GOOD)
    store_fills(db_url, 1)  # HY00120000123 has been filled; HY00120000124 never
    f = tmp_path / "restamped.csv"
    f.write_text(HEADER + "".join(RESTAMPED), encoding="utf-8")
    code, _, err = run(capsys, "registry", "import", str(f), "--db", db_url)
    assert code == 2
    assert "1 cylinder(s) already filled would get another fill target, nothing imported" in err
    assert "HY00120000123: model YSP35.5 → YSP26.2, tare_kg 15.200 → 15.400" in err
    assert "HY00120000124" not in err  # never filled: it may change
    assert "--accept-changes --by NAME --why TEXT" in err
    assert (_tare(db_url, capsys, CODE), _tare(db_url, capsys, "HY00120000124")) == ("15.2", "15")

    f.write_text(HEADER + GOOD[0] + RESTAMPED[1], encoding="utf-8")  # only the unfilled one changes
    code, out, err = run(capsys, "registry", "import", str(f), "--db", db_url)
    assert code == 0, err
    assert "1 new or changed" in out
    assert _tare(db_url, capsys, "HY00120000124") == "15.1"


def test_an_accepted_change_is_recorded_with_who_and_why_and_trace_shows_it(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _imported(db_url, tmp_path, capsys, *GOOD)
    store_fills(db_url, 2)
    f = tmp_path / "restamped.csv"
    f.write_text(HEADER + "".join(RESTAMPED), encoding="utf-8")
    restamped = ("registry", "import", str(f), "--db", db_url)
    code, _, err = run(capsys, *restamped, "--accept-changes", "--by", "王五")
    assert (code, "--accept-changes needs --by NAME and --why TEXT" in err) == (2, True)
    code, _, err = run(capsys, *restamped, "--by", "王五", "--why", "x")
    assert (code, "--by and --why go with --accept-changes" in err) == (2, True)
    assert _tare(db_url, capsys, CODE) == "15.2"

    why = "钢印复核，皮重重新打印"
    code, out, err = run(capsys, *restamped, "--accept-changes", "--by", "王五", "--why", why)
    assert code == 0, err
    assert "2 change(s) of filled cylinders' tare or model accepted by 王五" in out
    assert _tare(db_url, capsys, CODE) == "15.4"

    code, out, _ = run(capsys, "trace", CODE, "--db", db_url)
    assert code == 0
    assert f"model YSP35.5 → YSP26.2, accepted by 王五: {why}" in out
    assert f"tare_kg 15.200 → 15.400, accepted by 王五: {why}" in out
    doc = json.loads(run(capsys, "trace", CODE, "--json", "--db", db_url)[1])
    changes = [e for e in doc["events"] if e["kind"] == "change"]
    assert [(c["field"], c["old_value"], c["new_value"], c["who"], c["why"]) for c in changes] == [
        ("model", "YSP35.5", "YSP26.2", "王五", why),
        ("tare_kg", "15.200", "15.400", "王五", why),
    ]
    assert all(c["at"].endswith("+00:00") for c in changes)

    code, out, err = run(capsys, *restamped)  # the same file again
    assert (code, "0 new or changed" in out) == (0, True), err


def test_the_same_file_again_is_no_change_also_with_a_tare_finer_than_the_gram_kept(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fine = GOOD[0].replace(",15.2,", ",15.2345,")  # kept as 15.235 (to the gram): the same tare
    _imported(sqlite_url, tmp_path, capsys, fine)
    store_fills(sqlite_url, 1)
    f = tmp_path / "again.csv"
    f.write_text(HEADER + fine, encoding="utf-8")
    code, _, err = run(capsys, "registry", "import", str(f), "--db", sqlite_url)
    assert code == 0, err
