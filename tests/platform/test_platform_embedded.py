"""The embedded platform of a scenario: its registry holds the scenario's unit, stations, cylinders
and operators; the inspect and regulator steps go through the signed API even while the floor sees
the platform down; the floor's key pulls the resulting changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from domain.archive import Operator
from platform_client.auth import SigningAuth
from platform_server.embedded import PlatformRefused, embedded_platform
from tests.support.platform_env import OTHER, TODAY, UNIT, archive


async def test_scenario_steps_reach_the_floor_as_changes(tmp_path: Path) -> None:
    cylinders = [
        archive(f"{UNIT}0000001"),
        archive(f"{UNIT}0000002", next_inspection=dt.date(2026, 1, 1)),  # overdue on purpose
        archive(f"{OTHER}0000001", owner=OTHER),  # a foreign cylinder the interlock must refuse
    ]
    stored: list[tuple[str, str, str]] = []
    async with embedded_platform(
        f"sqlite:///{tmp_path / 'p.db'}",
        unit_code=UNIT,
        short_name="衡阳燃气",
        stations=["S1", "S2"],
        archives=cylinders,
        operators=[Operator("OP01", "张三", dt.date(2027, 1, 1))],
        today=TODAY,
        on_record=lambda *a: stored.append(a),
    ) as platform:
        platform.set_mode("down")  # the floor's link is down; the agency and the regulator are not
        await platform.inspect(f"{UNIT}0000002", "pass", next_inspection=dt.date(2030, 11, 1))
        await platform.regulate("disable", "S2")
        await platform.regulate("block", f"{UNIT}0000001")
        with pytest.raises(PlatformRefused, match=r"cylinder\.unknown"):
            await platform.regulate("block", "HY00129999999")
        async with httpx.AsyncClient(
            base_url=platform.url, auth=SigningAuth(UNIT, platform.unit_key)
        ) as floor:
            with pytest.raises(httpx.RemoteProtocolError):
                await floor.get("/v1/registry/changes")
            platform.set_mode("up")
            page = (await floor.get("/v1/registry/changes")).json()
    got = [(c["type"], c["cause"]) for c in page["changes"]]
    assert got == [
        ("station", "registered"),
        ("station", "registered"),
        ("operator", "registered"),
        ("archive", "seeded"),
        ("archive", "seeded"),
        ("inspection", "inspection_pass"),
        ("archive", "inspection_pass"),
        ("station", "regulator_disable"),
        ("archive", "regulator_block"),
    ]
    assert page["changes"][6]["data"]["next_inspection"] == "2030-11-01"
    assert page["cursor"] == page["latest"]
