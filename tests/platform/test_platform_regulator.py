"""The regulator: disables and blocks reach the unit as changes; progress and traces from the uploaded
records; the fill chain re-verified from the platform's copy names an altered or missing fill."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from platform_server import open_store
from platform_server import schema as t
from platform_server.chain_check import verify_unit_chain
from platform_server.fields import Fields
from platform_server.records import check_record, store_batch
from supervisor.storage.chain import canonical_content, content_hash, link_hash
from tests.support.platform_env import OTHER, REGULATOR, UNIT, floor_outbox, platform_env


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return floor_outbox(tmp_path_factory.mktemp("floor"), fills=4)


async def test_regulator_actions_reach_the_unit_as_changes(db_url: str) -> None:
    async with platform_env(db_url) as env:
        async with env.client(UNIT) as unit:
            await unit.post("/v1/stations", json={"stations": [{"id": "S1"}, {"id": "S2"}]})
            cursor = (await unit.get("/v1/registry/changes")).json()["cursor"]
        async with env.client(REGULATOR) as reg:
            actions = [
                {"action": "disable", "unit": UNIT, "station": "S2", "reason": "秤未检定"},
                {"action": "disable", "unit": UNIT, "reason": "停业整顿"},
                {"action": "disable", "unit": UNIT},  # in force already: nothing changes
                {"action": "block", "cylinder": f"{UNIT}0000001", "reason": "涉嫌翻新"},
                {"action": "enable", "unit": UNIT},
                {"action": "unblock", "cylinder": f"{UNIT}0000001"},
            ]
            answers = [(await reg.post("/v1/regulator/actions", json=a)).json() for a in actions]
            assert [a["changed"] for a in answers] == [True, True, False, True, True, True]
            assert answers[0]["target"] == f"{UNIT}/S2"
            bad = [
                ({"action": "disable", "unit": "HY9999"}, 404, "unit.unknown"),
                ({"action": "disable", "unit": UNIT, "station": "S9"}, 404, "station.unknown"),
                ({"action": "block", "cylinder": "HY00129999999"}, 404, "cylinder.unknown"),
                ({"action": "block", "unit": UNIT}, 422, "request.invalid"),
                ({"action": "explode", "unit": UNIT}, 422, "request.invalid"),
            ]
            for body, status, code in bad:
                r = await reg.post("/v1/regulator/actions", json=body)
                assert (r.status_code, r.json()["error"]) == (status, code), body
        async with env.client(UNIT) as unit:
            changes = (await unit.get("/v1/registry/changes", params={"cursor": cursor})).json()["changes"]
        got = [(c["type"], c["cause"]) for c in changes]
        assert got == [
            ("station", "regulator_disable"),
            ("unit", "regulator_disable"),
            ("archive", "regulator_block"),
            ("unit", "regulator_enable"),
            ("archive", "regulator_unblock"),
        ]
        station = {"unit": UNIT, "id": "S2", "name": "", "enabled": False, "reason": "秤未检定"}
        assert changes[0]["data"] == station
        assert changes[2]["data"]["blocked"] is True
        assert changes[4]["data"]["blocked"] is False


async def test_progress_and_trace_come_from_the_uploaded_records(sqlite_url: str, outbox: list[Any]) -> None:
    async with platform_env(sqlite_url) as env:
        async with env.client(UNIT) as unit:
            await unit.post("/v1/records", json={"records": outbox})
        async with env.client(REGULATOR) as reg:
            r = await reg.get("/v1/regulator/progress", params={"unit": UNIT})
            p = r.json()["units"][0]
            assert p["code"] == UNIT
            assert p["labels_registered"] == 3
            assert p["records"] == {"fill": 4, "check": 1, "refusal": 1, "alarm": 1}
            assert p["fills_by_day"] == {"2026-11-23": 4}
            assert p["refusals_by_reason"] == {"cylinder.inspection_overdue": 1}
            assert (p["overfills"], p["underfills"]) == (1, 0)
            assert p["sync_lag_s"] is not None
            r = await reg.get("/v1/regulator/progress")
            assert [u["code"] for u in r.json()["units"]] == [UNIT, OTHER]
            r = await reg.get("/v1/regulator/progress", params={"unit": "HY9999"})
            assert r.status_code == 404
            r = await reg.get(f"/v1/regulator/trace/{UNIT}0000001")
            trace = r.json()
            assert trace["archive"]["owner"] == UNIT
            assert [x["kind"] for x in trace["records"]] == ["check", "fill", "fill", "fill", "fill"]
            r = await reg.get("/v1/regulator/trace/HY00129999999")
            assert r.status_code == 404


async def test_verify_chain_names_an_altered_or_missing_fill(db_url: str, outbox: list[Any]) -> None:
    fills = [x for x in outbox if x["kind"] == "fill"]
    async with platform_env(db_url) as env, env.client(UNIT) as unit, env.client(REGULATOR) as reg:
        path = f"/v1/regulator/verify-chain/{UNIT}"
        await unit.post("/v1/records", json={"records": [fills[0], fills[1], fills[3]]})
        r = (await reg.get(path)).json()
        assert (r["ok"], r["count"], r["first_bad_seq"]) == (False, 2, 3)
        assert "fill #3 is missing" in r["problem"]
        await unit.post("/v1/records", json={"records": [fills[2]]})
        r = (await reg.get(path)).json()
        assert (r["ok"], r["count"]) == (True, 4)
        # Someone with access to the platform's database changes a stored fill's mass.
        with env.app.store.transaction() as conn:
            q = select(t.record.c.payload).where(t.record.c.record_id == "fill-0002")
            payload = copy.deepcopy(conn.execute(q).scalar_one())
            payload["net_kg"] = "14.9"
            where = t.record.c.record_id == "fill-0002"
            conn.execute(update(t.record).where(where).values(payload=payload))
        r = (await reg.get(path)).json()
        assert (r["ok"], r["first_bad_seq"], r["first_bad_record_id"]) == (False, 2, "fill-0002")
        assert "altered" in r["problem"]
        r = await reg.get("/v1/regulator/verify-chain/HY9999")
        assert r.status_code == 404


def test_a_forked_chain_is_reported(tmp_path: Path, outbox: list[Any]) -> None:
    # A floor restored from an old backup goes on from fill #1 with another fill #2.
    fills = [x for x in outbox if x["kind"] == "fill"][:2]
    fork = copy.deepcopy(fills[1])
    fork["record_id"] = fork["payload"]["record_id"] = "fill-fork"
    content = canonical_content(fork["payload"])
    link = link_hash(fork["payload"]["prev_hash"], content)
    fork["payload"].update(content=content, content_hash=content_hash(content), hash=link)
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}", None)
    with store.transaction() as conn:
        checked = [check_record(x["record_id"], Fields(x, "r")) for x in [*fills, fork]]
        assert [type(c).__name__ for c in checked] == ["Checked"] * 3
        store_batch(conn, UNIT, checked, "2026-11-23T09:00:00.000+00:00")
        report = verify_unit_chain(conn, UNIT)
    store.close()
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "forked" in report.problem
