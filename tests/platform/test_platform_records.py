"""Record uploads: stored once per record id whatever is resent, answered per record; a bad record is
rejected with its reason and field while the rest of its batch is stored; a bad envelope is a 422
naming the field. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from platform_server import schema as t
from tests.support.platform_env import OTHER, REGULATOR, UNIT, floor_outbox, platform_env


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return floor_outbox(tmp_path_factory.mktemp("floor"), fills=3)


def _stored(env: Any) -> int:
    with env.app.store.reading() as conn:
        return conn.execute(select(func.count()).select_from(t.record)).scalar_one()


async def test_a_batch_is_stored_once_however_often_it_is_sent(db_url: str, outbox: list[Any]) -> None:
    async with platform_env(db_url) as env, env.client(UNIT) as client:
        r = await client.post("/v1/records", json={"records": outbox})
        assert r.status_code == 200
        results = r.json()["results"]
        assert [x["record_id"] for x in results] == [x["record_id"] for x in outbox]
        assert {x["status"] for x in results} == {"stored"}
        assert sorted(k for _, k, _ in env.events) == ["alarm", "check", "fill", "fill", "fill", "refusal"]
        # The reply was lost, the floor sends it all again (and one record twice in the same batch).
        r = await client.post("/v1/records", json={"records": [*outbox, outbox[0]]})
        assert {x["status"] for x in r.json()["results"]} == {"duplicate"}
        assert _stored(env) == len(outbox)
        assert [s for _, _, s in env.events].count("duplicate") == len(outbox) + 1
        # The stored payload is what the floor sent.
        with env.app.store.reading() as conn:
            q = select(t.record.c.payload).where(t.record.c.record_id == "fill-0002")
            fill = conn.execute(q).scalar_one()
        assert fill == next(x["payload"] for x in outbox if x["record_id"] == "fill-0002")


async def test_a_conflicting_or_bad_record_is_rejected_and_the_rest_stored(
    db_url: str, outbox: list[dict[str, Any]]
) -> None:
    async with platform_env(db_url) as env, env.client(UNIT) as client:
        by_id = {x["record_id"]: x for x in outbox}
        await client.post("/v1/records", json={"records": [by_id["chk-1"]]})
        altered = copy.deepcopy(by_id["chk-1"])
        altered["payload"]["result"] = "fail"  # same id, other content
        float_mass = copy.deepcopy(by_id["fill-0001"])
        float_mass["payload"]["gross_kg"] = 29.712
        forged = copy.deepcopy(by_id["fill-0002"])
        forged["payload"]["net_kg"] = "15.512"  # the fields no longer match the chained content
        no_cylinder = copy.deepcopy(by_id["chk-1"])
        no_cylinder["record_id"] = "chk-2"
        del no_cylinder["payload"]["cylinder_code"]
        bad_kind = {**by_id["alm-1"], "record_id": "x-1", "kind": "invoice"}
        batch = [altered, float_mass, forged, no_cylinder, bad_kind, by_id["alm-1"], by_id["ref-1"]]
        r = await client.post("/v1/records", json={"records": batch})
        assert r.status_code == 200
        results = r.json()["results"]
        got = [(x["status"], x.get("reason"), x.get("field")) for x in results]
        assert got == [
            ("rejected", "record.conflict", "records[0].record_id"),
            ("rejected", "record.bad_field", "records[1].payload.gross_kg"),
            ("rejected", "fill.content_mismatch", "records[2].payload.content"),
            ("rejected", "record.missing_field", "records[3].payload.cylinder_code"),
            ("rejected", "record.bad_kind", "records[4].kind"),
            ("stored", None, None),
            ("stored", None, None),
        ]
        assert _stored(env) == 3  # nothing of a rejected record was kept
        # The same record from another unit is not that unit's record: a conflict, never a duplicate.
        async with env.client(OTHER) as other:
            r = await other.post("/v1/records", json={"records": [by_id["alm-1"]]})
        assert r.json()["results"][0]["reason"] == "record.conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "(body)"),
        (b"[]", "(body)"),
        (b'{"records": {}}', "records"),
        (b'{"record": []}', "record"),
        (b'{"records": [{"kind": "fill", "payload": {}}]}', "records[0].record_id"),
        (b'{"records": [{"record_id": "a b", "kind": "fill", "payload": {}}]}', "records[0].record_id"),
    ],
)
async def test_a_malformed_batch_is_a_422_naming_the_field(sqlite_url: str, body: bytes, field: str) -> None:
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:
        r = await client.post("/v1/records", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"] == "request.invalid"
    assert r.json()["field"] == field
    assert env.events == []


async def test_an_oversized_batch_is_refused(sqlite_url: str, outbox: list[dict[str, Any]]) -> None:
    async with platform_env(sqlite_url, max_body_bytes=10_000) as env, env.client(UNIT) as client:
        r = await client.post("/v1/records", json={"records": outbox * 10})
        assert r.status_code == 413
        r = await client.post("/v1/records", json={"records": [outbox[0]] * 1001})
    assert r.status_code in (413, 422)


def test_floor_outbox_payloads_are_what_the_platform_expects(tmp_path: Path) -> None:
    # The platform checks fills against the floor's own chain code: a real outbox passes.
    from platform_server.fields import Fields
    from platform_server.records import Checked, check_record

    for item in floor_outbox(tmp_path, fills=2):
        assert isinstance(check_record(item["record_id"], Fields(item, "r")), Checked), item


async def test_records_about_another_units_cylinders_are_refused_and_stay_out_of_its_trace(
    sqlite_url: str, outbox: list[dict[str, Any]]
) -> None:
    async with platform_env(sqlite_url) as env:
        code = next(x["payload"]["cylinder_code"] for x in outbox if x["kind"] == "fill")
        async with env.client(OTHER) as other:
            r = await other.post("/v1/records", json={"records": outbox})
        got = {x["record_id"]: (x["status"], x.get("reason")) for x in r.json()["results"]}
        by_kind = {x["record_id"]: x["kind"] for x in outbox}
        for record_id, kind in by_kind.items():
            if kind in ("fill", "check"):
                assert got[record_id] == ("rejected", "record.not_owner"), record_id
        field = r.json()["results"][0]["field"]
        assert field == "records[0].payload.cylinder_code"
        async with env.client(REGULATOR) as reg:
            trace = (await reg.get(f"/v1/regulator/trace/{code}")).json()
        assert [x["unit"] for x in trace["records"]] == []
        # The owner's own records are taken and traced.
        async with env.client(UNIT) as unit:
            own = [x for x in outbox if x["kind"] in ("fill", "check")]
            r = await unit.post("/v1/records", json={"records": own})
            assert {x["status"] for x in r.json()["results"]} == {"stored"}
        async with env.client(REGULATOR) as reg:
            trace = (await reg.get(f"/v1/regulator/trace/{code}")).json()
        assert trace["records"]
        assert {x["unit"] for x in trace["records"]} == {UNIT}


async def test_pathological_json_is_refused_for_its_record_and_the_rest_stored(
    sqlite_url: str, outbox: list[dict[str, Any]]
) -> None:
    by_id = {x["record_id"]: x for x in outbox}
    deep: object = "bottom"
    for _ in range(200):
        deep = [deep]
    bad = [
        {**by_id["alm-1"], "record_id": "deep", "payload": {**by_id["alm-1"]["payload"], "extra": deep}},
        {**by_id["alm-1"], "record_id": "huge", "payload": {**by_id["alm-1"]["payload"], "n": 0}},
        {**by_id["alm-1"], "record_id": "lone", "payload": {**by_id["alm-1"]["payload"], "note": "x"}},
    ]
    body = json.dumps({"records": [*bad, by_id["ref-1"]]}, ensure_ascii=True)
    body = body.replace('"n": 0', '"n": ' + "9" * 5000).replace('"note": "x"', '"note": "\\ud800"')
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:
        r = await client.post("/v1/records", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200
        got = [(x["status"], x.get("reason"), x.get("field", "")[:24]) for x in r.json()["results"]]
        assert got == [
            ("rejected", "record.bad_field", "records[0].payload.extra"),  # where it gets too deep
            ("rejected", "record.bad_field", "records[1].payload.n"),
            ("rejected", "record.bad_field", "records[2].payload.note"),
            ("stored", None, ""),
        ]
        # Nested beyond what can be parsed at all: the body is refused, not the platform broken.
        r = await client.post(
            "/v1/records", content=b"[" * 100_000, headers={"content-type": "application/json"}
        )
        assert (r.status_code, r.json()["field"]) == (422, "(body)")
