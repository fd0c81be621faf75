"""Outages on demand: a lost reply after the batch was stored, a platform gone, 5xx storms with
Retry-After, throttling, slow replies; the mode ends by itself after its seconds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import platform_server.app as app_module
from platform_server import FaultSwitch
from tests.support.platform_env import UNIT, floor_outbox, platform_env
from tests.support.waiting import until


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return floor_outbox(tmp_path_factory.mktemp("floor"), fills=2)


def test_a_mode_ends_after_its_seconds() -> None:
    now = [100.0]
    switch = FaultSwitch(clock=lambda: now[0])
    switch.set("down", seconds=5)
    assert switch.mode == "down"
    now[0] = 105.0
    assert switch.mode == "up"
    switch.set("error_5xx")
    now[0] = 1e9
    assert switch.mode == "error_5xx"  # no seconds: until set again
    with pytest.raises(ValueError, match="must be one of"):
        switch.set("sideways")


async def test_a_lost_reply_leaves_the_batch_stored_and_the_resend_is_a_duplicate(
    db_url: str, outbox: list[Any]
) -> None:
    async with platform_env(db_url) as env, env.client(UNIT) as client:
        env.app.faults.set("drop_response")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/records", json={"records": outbox})
        assert {s for _, _, s in env.events} == {"stored"}
        assert len(env.events) == len(outbox)
        env.app.faults.set("up")
        r = await client.post("/v1/records", json={"records": outbox})
        assert {x["status"] for x in r.json()["results"]} == {"duplicate"}


async def test_down_5xx_and_throttle_store_nothing(sqlite_url: str, outbox: list[Any]) -> None:
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:
        env.app.faults.set("down")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/records", json={"records": outbox})
        env.app.faults.set("error_5xx")
        answers = [await client.post("/v1/records", json={"records": outbox}) for _ in range(3)]
        assert [r.status_code for r in answers] == [500, 502, 503]
        assert answers[2].headers["retry-after"] == "1"
        assert answers[0].json()["error"] == "platform.error"
        env.app.faults.set("throttle")
        r = await client.get("/v1/registry/changes")
        assert (r.status_code, r.headers["retry-after"]) == (429, "2")
        assert env.events == []
        env.app.faults.set("up")
        r = await client.post("/v1/records", json={"records": outbox})
        assert {x["status"] for x in r.json()["results"]} == {"stored"}


async def test_a_slow_reply_times_out_at_the_client_but_the_batch_is_stored(
    sqlite_url: str, outbox: list[Any]
) -> None:
    async with platform_env(sqlite_url) as env, env.client(UNIT, timeout=2.0) as client:
        env.app.faults.slow_s = 60.0  # (far beyond the client's patience, however busy the machine)
        env.app.faults.set("slow")
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/records", json={"records": outbox})
        await until(lambda: len(env.events) == len(outbox))  # stored before the slow reply


async def test_an_internal_failure_is_a_json_500_and_stores_nothing(
    sqlite_url: str, outbox: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with platform_env(sqlite_url) as env, env.client(UNIT) as client:

        def broken(*_args: object) -> None:
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(app_module, "store_batch", broken)
        r = await client.post("/v1/records", json={"records": outbox})
        assert (r.status_code, r.json()["error"]) == (500, "platform.internal")
        assert env.events == []
