"""Helpers for the platform tests: a platform served by hypercorn on loopback, signed httpx clients,
and records exactly as a floor's outbox holds them (made by the floor's own storage code)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from attrs import define, field

from domain.archive import CylinderArchive
from domain.records import Record
from platform_client.auth import SigningAuth
from platform_server import PlatformApp, open_store, running_platform
from platform_server.archives import seed_archives
from platform_server.key_seal import KeySeal
from platform_server.parties import add_party, add_unit
from supervisor.storage import AlarmRecord, CheckRecord, FillRecord, RefusalRecord, open_database
from supervisor.storage.repository import pending_outbox, store_all

TODAY = dt.date(2026, 11, 23)
UNIT, OTHER, AGENCY, REGULATOR = "HY0012", "HY0013", "AG01", "REG"


@define
class Env:
    app: PlatformApp
    url: str
    keys: dict[str, str]
    events: list[tuple[str, str, str]] = field(factory=list)

    def client(self, party: str, **kw: Any) -> httpx.AsyncClient:
        kw.setdefault("auth", SigningAuth(party, self.keys[party]))
        return httpx.AsyncClient(base_url=self.url, **kw)


def archive(code: str, owner: str = UNIT, **kw: Any) -> CylinderArchive:
    values: dict[str, Any] = {
        "model": "YSP35.5", "tare_kg": Decimal("15.2"), "manufactured": dt.date(2019, 5, 1),
        "last_inspection": dt.date(2023, 6, 1), "next_inspection": dt.date(2027, 6, 1),
    }  # fmt: skip
    values.update(kw)
    return CylinderArchive(code=code, owner=owner, **values)


@asynccontextmanager
async def platform_env(db_url: str, **app_kw: Any) -> AsyncIterator[Env]:
    """A fresh platform on `db_url` with two units, an agency and a regulator, served on loopback."""
    store = open_store(db_url, KeySeal.generate())
    keys: dict[str, str] = {}
    with store.transaction() as conn:
        keys[UNIT] = add_unit(conn, store.seal, UNIT, "衡阳燃气")
        keys[OTHER] = add_unit(conn, store.seal, OTHER, "耒阳燃气")
        keys[AGENCY] = add_party(conn, store.seal, AGENCY, "agency", "衡阳市特种设备检验所")
        keys[REGULATOR] = add_party(conn, store.seal, REGULATOR, "regulator", "衡阳市市场监督管理局")
        seeded = [archive(f"{UNIT}0000{n:03d}") for n in range(1, 4)]
        seed_archives(conn, seeded, "2026-11-23T00:00:00.000+00:00")
    events: list[tuple[str, str, str]] = []
    app_kw.setdefault("today", lambda: TODAY)
    tls = {name: app_kw.pop(name, None) for name in ("certfile", "keyfile")}
    app = PlatformApp(store, on_record=lambda rid, kind, status: events.append((rid, kind, status)), **app_kw)
    try:
        async with running_platform(app, **tls) as url:
            yield Env(app, url, keys, events)
    finally:
        store.close()


def _fill(n: int) -> FillRecord:
    return FillRecord(
        record_id=f"fill-{n:04d}", cylinder=f"{UNIT}0000001", station="S1", operator="OP01",
        outcome="completed", started_at="2026-11-23T08:00:00.000+00:00",
        ended_at=f"2026-11-23T08:{n % 60:02d}:30.000+00:00", tare_kg=Decimal("15.2"),
        target_kg=Decimal("29.7"), gross_kg=Decimal("29.712"), net_kg=Decimal("14.512"), error_g=12,
        flags=("overfill",) if n == 2 else (), gross_before_kg=Decimal("15.31"), preact_kg=Decimal("0.42"),
        precheck_id=f"chk-{n}",
    )  # fmt: skip


def floor_records(fills: int = 3) -> list[Record]:
    """`fills` chained fills, a check, a refusal and an alarm, as a floor makes them."""
    at = "2026-11-23T08:00:10.000+00:00"
    return [
        CheckRecord("chk-1", f"{UNIT}0000001", "pre", "pass", "CK01", at, {"valve": "ok"}, "S1"),
        *[_fill(n) for n in range(1, fills + 1)],
        RefusalRecord("ref-1", "S1", ("cylinder.inspection_overdue",), at, f"{UNIT}0000009", "", "OP01"),
        AlarmRecord("alm-1", "A1", "overfill", "high", "超装 0.6 kg", "raised", at, "S1"),
    ]


def floor_outbox(directory: Path, fills: int = 3) -> list[dict[str, Any]]:
    """Records as the floor's outbox holds them (`floor_records`), as upload items."""
    db = open_database(f"sqlite:///{directory / 'floor.db'}")
    records = floor_records(fills)
    try:
        with db.transaction() as conn:
            store_all(conn, records)
        with db.reading() as conn:
            items = pending_outbox(conn, limit=1000)
    finally:
        db.close()
    return [{"record_id": i.record_id, "kind": i.kind, "payload": dict(i.payload)} for i in items]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by `openssl` (the test is skipped without it)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    cert, key = directory / "platform.pem", directory / "platform.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key
