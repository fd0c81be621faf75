"""The registry: archives registered under the rules (不予赋码与录入) with every reason, inspections,
property transfers, stations and operators, all reaching the floors as changes paged by cursor."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from platform_server.archives import seed_archives
from tests.support.platform_env import AGENCY, OTHER, REGULATOR, UNIT, archive, platform_env


def row(code: str, **kw: Any) -> dict[str, Any]:
    base = {"code": code, "model": "YSP35.5", "tare_kg": "15.2", "manufactured": "2020-03-01",
            "last_inspection": "2024-03-01", "serial": "A123", "manufacturer": "某某钢瓶厂"}  # fmt: skip
    return {**base, **kw}


async def test_registration_refuses_with_every_reason_that_applies(sqlite_url: str) -> None:
    photo = b"\x89PNG\r\n\x1a\n stamped marks"
    digest = hashlib.sha256(photo).hexdigest()
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:
        r = await client.put(f"/v1/photos/{digest}", content=photo, headers={"content-type": "image/png"})
        assert r.status_code == 201
        archives = [
            row(f"{UNIT}1000001", photos=[digest]),
            row(f"{UNIT}1000002", owner=OTHER),
            row(f"{UNIT}1000003", last_inspection="2021-01-01", scrap_date="2026-01-01"),
            row(f"{UNIT}1000004", defects=["refurbished", "corroded"]),
            row(f"{UNIT}1000005", photos=["0" * 64]),
            row(f"{UNIT}1000006", status="blocked"),
            row(f"{UNIT}1000007", tare_kg="abc"),
            row(f"{UNIT}1000008", model="YSP99"),
        ]
        r = await client.post("/v1/archives", json={"archives": archives})
        assert r.status_code == 200
        got = [(x["status"], x.get("reasons"), x.get("field")) for x in r.json()["results"]]
        assert got == [
            ("registered", None, None),
            ("refused", ["cylinder.not_own_property"], None),
            ("refused", ["cylinder.past_scrap_date", "cylinder.inspection_overdue"], None),
            ("refused", ["registration.refurbished", "registration.corroded"], None),
            ("refused", ["registration.photo_missing"], None),
            ("refused", ["cylinder.blocked"], None),
            ("refused", ["archive.bad_field"], "archives[6].tare_kg"),
            ("refused", ["archive.bad_field"], "archives[7].model"),
        ]
        # Registering the same again changes nothing; correcting a descriptive field is an update.
        r = await client.post("/v1/archives", json={"archives": [row(f"{UNIT}1000001", photos=[digest])]})
        assert r.json()["results"][0]["status"] == "unchanged"
        fixed = row(f"{UNIT}1000001", photos=[digest], serial="A124", last_inspection="2026-11-01")
        r = await client.post("/v1/archives", json={"archives": [fixed]})
        assert r.json()["results"][0]["status"] == "updated"
        r = await client.get("/v1/registry/changes")
        data = r.json()["changes"][-1]["data"]
        assert data["serial"] == "A124"
        assert data["last_inspection"] == "2024-03-01"  # inspection dates are the agencies' to move
        assert data["photos"] == [digest]
        r = await client.get(f"/v1/photos/{digest}")
        assert r.content == photo
    async with platform_env(sqlite_url.replace(".db", "2.db")) as env, env.client(OTHER) as client:
        r = await client.post("/v1/archives", json={"archives": [row(f"{UNIT}0000001", owner=OTHER)]})
        assert r.json()["results"][0]["reasons"] == ["registration.code_taken", "cylinder.not_own_property"]
        r = await client.post("/v1/archives", json={"archives": [{"model": "YSP35.5"}]})
        assert r.status_code == 422
        assert r.json()["field"] == "archives[0].code"


async def test_changes_are_paged_by_cursor_in_order_and_each_unit_sees_its_own(db_url: str) -> None:
    async with platform_env(db_url) as env, env.client(UNIT) as client:
        archives = [row(f"{UNIT}20000{n:02d}") for n in range(25)]
        await client.post("/v1/archives", json={"archives": archives})
        await client.post("/v1/stations", json={"stations": [{"id": "S1"}, {"id": "S2", "name": "二号秤"}]})
        ops = [
            {"id": "OP01", "name": "张三", "certificate_expires": "2027-01-01"},
            {"id": "OP02", "name": "李四"},
        ]
        r = await client.post("/v1/operators", json={"operators": ops})
        assert [x["status"] for x in r.json()["results"]] == ["registered", "rejected"]
        assert r.json()["results"][1]["field"] == "operators[1].certificate_expires"
        seen: list[dict[str, Any]] = []
        cursor, pages = 0, 0
        while True:
            r = await client.get("/v1/registry/changes", params={"cursor": cursor, "limit": 10})
            page = r.json()
            seen += page["changes"]
            cursor, pages = page["cursor"], pages + 1
            if not page["more"]:
                break
        # 3 seeded archives, 25 registered, 2 stations, 1 operator; nothing twice, nothing skipped.
        assert len(seen) == 31
        assert pages == 4
        seqs = [c["seq"] for c in seen]
        assert seqs == sorted(set(seqs))
        assert [c["type"] for c in seen[-3:]] == ["station", "station", "operator"]
        assert seen[-1]["data"] == {"id": "OP01", "name": "张三", "certificate_expires": "2027-01-01",
                                    "certificate_no": ""}  # fmt: skip
        r = await client.get("/v1/registry/changes", params={"cursor": cursor})
        assert r.json() == {"changes": [], "cursor": cursor, "more": False, "latest": cursor}
        r = await client.get("/v1/registry/changes", params={"cursor": -1})
        assert r.status_code == 422
        assert r.json()["field"] == "cursor"
        async with env.client(OTHER) as other:
            r = await other.get("/v1/registry/changes")
        assert r.json() == {"changes": [], "cursor": 0, "more": False, "latest": 0}


async def test_an_inspection_pass_moves_the_dates_and_a_fail_scraps(sqlite_url: str) -> None:
    overdue = f"{UNIT}3000001"
    async with platform_env(sqlite_url) as env:
        with env.app.store.transaction() as conn:
            seed_archives(conn, [archive(overdue, next_inspection=dt.date(2026, 6, 1))], "t")
        async with env.client(AGENCY) as agency:
            body = {"cylinder": overdue, "result": "pass", "inspected_on": "2026-11-20", "report_no": "JY-1"}
            r = await agency.post("/v1/inspections", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["archive"]["next_inspection"] == "2030-11-20"  # + 4 years (GB/T 8334)
            assert r.json()["archive"]["inspection_unit"] == "衡阳市特种设备检验所"
            r = await agency.post("/v1/inspections", json={"cylinder": f"{UNIT}0000002", "result": "fail"})
            assert r.json()["archive"]["status"] == "scrapped"
            r = await agency.post("/v1/inspections", json={"cylinder": f"{UNIT}0000002", "result": "pass"})
            assert r.status_code == 409
            assert r.json()["error"] == "cylinder.scrapped"
            r = await agency.post("/v1/inspections", json={"cylinder": "nope0001", "result": "pass"})
            assert (r.status_code, r.json()["error"]) == (404, "cylinder.unknown")
            r = await agency.post("/v1/inspections", json={"cylinder": overdue, "result": "maybe"})
            assert (r.status_code, r.json()["field"]) == (422, "result")
        async with env.client(UNIT) as client:
            changes = (await client.get("/v1/registry/changes", params={"cursor": 4})).json()["changes"]
            assert [(c["type"], c["cause"]) for c in changes] == [
                ("inspection", "inspection_pass"),
                ("archive", "inspection_pass"),
                ("inspection", "inspection_fail"),
                ("archive", "inspection_fail"),
            ]
            # A scrapped cylinder's code is never reused.
            r = await client.post("/v1/archives", json={"archives": [row(f"{UNIT}0000002")]})
            assert "registration.code_scrapped" in r.json()["results"][0]["reasons"]


async def test_a_property_transfer_moves_the_cylinder_and_tells_both_units(sqlite_url: str) -> None:
    code = f"{UNIT}0000003"
    async with platform_env(sqlite_url) as env, env.client(OTHER) as other:
        r = await other.post("/v1/transfers", json={"cylinder": code, "from_unit": "HY9999"})
        assert (r.status_code, r.json()["error"]) == (409, "transfer.wrong_owner")
        body = {"cylinder": code, "from_unit": UNIT, "document": "转让协议 7"}
        r = await other.post("/v1/transfers", json=body)
        assert (r.status_code, r.json()["status"]) == (202, "pending")
        async with env.client(UNIT) as unit:
            (pending,) = (await unit.get("/v1/transfers")).json()["pending"]
            assert (pending["cylinder"], pending["to_unit"]) == (code, OTHER)
            r = await unit.post(f"/v1/transfers/{pending['transfer_id']}/accept")
        assert r.status_code == 200
        assert r.json()["archive"]["owner"] == OTHER
        assert r.json()["previous_owner"] == UNIT
        theirs = (await other.get("/v1/registry/changes")).json()["changes"]
        assert [(c["cause"], c["data"]["owner"]) for c in theirs] == [("transferred_in", OTHER)]
        async with env.client(UNIT) as unit:
            mine = (await unit.get("/v1/registry/changes")).json()["changes"]
        assert (mine[-1]["cause"], mine[-1]["data"]["owner"]) == ("transferred_out", OTHER)
        async with env.client(REGULATOR) as reg:
            r = await reg.get(f"/v1/regulator/trace/{code}")
        assert r.json()["transfers"][0]["from_unit"] == UNIT


async def test_a_unit_cannot_take_another_units_cylinder_without_the_owners_acceptance(
    sqlite_url: str,
) -> None:
    code = f"{UNIT}0000003"
    async with platform_env(sqlite_url) as env:
        async with env.client(OTHER) as other:
            r = await other.post("/v1/transfers", json={"cylinder": code, "from_unit": UNIT})
            assert (r.status_code, r.json()["status"]) == (202, "pending")
            # A unit cannot accept its own request, nor give away what it does not own.
            r = await other.post(f"/v1/transfers/{r.json()['transfer_id']}/accept")
            assert (r.status_code, r.json()["error"]) == (404, "transfer.unknown")
            r = await other.post("/v1/transfers", json={"cylinder": code, "to_unit": OTHER})
            assert (r.status_code, r.json()["error"]) == (409, "transfer.wrong_owner")
        async with env.client(REGULATOR) as reg:
            assert (await reg.get(f"/v1/regulator/trace/{code}")).json()["transfers"] == []
            # The regulator decides directly.
            body = {"cylinder": code, "from_unit": UNIT, "to_unit": OTHER, "document": "监管决定 3"}
            r = await reg.post("/v1/transfers", json=body)
            assert (r.status_code, r.json()["archive"]["owner"]) == (200, OTHER)
        async with env.client(OTHER) as other:
            # The new owner gives it back itself: moved at once.
            r = await other.post("/v1/transfers", json={"cylinder": code, "to_unit": UNIT})
            assert (r.status_code, r.json()["archive"]["owner"]) == (200, UNIT)


async def test_a_photo_is_served_as_what_its_bytes_are_never_as_the_uploader_claimed(
    sqlite_url: str,
) -> None:
    page = b"<html><script>alert(1)</script></html>"
    jpeg = b"\xff\xd8\xff\xe0 label"
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:
        digest = hashlib.sha256(page).hexdigest()
        r = await client.put(f"/v1/photos/{digest}", content=page, headers={"content-type": "image/png"})
        assert (r.status_code, r.json()["error"]) == (415, "photo.bad_type")
        assert (await client.get(f"/v1/photos/{digest}")).status_code == 404
        digest = hashlib.sha256(jpeg).hexdigest()
        r = await client.put(f"/v1/photos/{digest}", content=jpeg, headers={"content-type": "image/png"})
        assert r.status_code == 201
        r = await client.get(f"/v1/photos/{digest}")
        assert (r.content, r.headers["content-type"]) == (jpeg, "image/jpeg")
        assert r.headers["x-content-type-options"] == "nosniff"


async def test_an_archive_value_no_cylinder_has_is_refused_with_its_reason(sqlite_url: str) -> None:
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:
        archives = [row(f"{UNIT}1000011", tare_kg=1e308), row(f"{UNIT}1000012", volume_l="35.5")]
        r = await client.post("/v1/archives", json={"archives": archives})
        results = r.json()["results"]
        assert (results[0]["status"], results[0]["reasons"]) == ("refused", ["archive.out_of_range"])
        assert results[0]["field"] == "archives[0].tare_kg"
        assert results[1]["status"] == "registered"
        changes = (await client.get("/v1/registry/changes")).json()["changes"]
        assert f"{UNIT}1000011" not in {c["data"].get("code") for c in changes}
