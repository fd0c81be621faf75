"""End to end with the city platform: `fillfloor sim` on simulator/scenarios/platform.toml, a real
process with the reference platform embedded on loopback (docs/scenarios.md `[platform]`).

Through lost replies and a 5xx storm every record the floor committed is stored at the platform
exactly once (ground truth: platform.stored / platform.duplicate, and the platform's own export);
the agency's inspection and the regulator's disable and block reach the interlock by sync.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from platform_server.chain_check import verify_unit_chain
from platform_server.store import open_store
from tests.support.sim_run import ROOT, SCENARIOS, of, run_sim

SCENARIO = SCENARIOS / "platform.toml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]], Path]:
    tmp = tmp_path_factory.mktemp("platform")
    platform_db = tmp / "platform.db"
    code, stderr, events = run_sim(SCENARIO, tmp, extra=["--platform-db", f"sqlite:///{platform_db}"])
    return code, stderr, events, platform_db


def _reasons(events: list[dict[str, Any]], station: str) -> list[list[str]]:
    return [e["reasons"] for e in of(events, "interlock.refused", station)]


def test_the_script_runs_to_its_end_without_a_timeout(run: Any) -> None:
    code, stderr, events, _db = run
    assert code == 0, stderr
    assert not of(events, "scenario.timeout")
    assert not of(events, "scenario.refused")
    assert of(events, "scenario.done")


def test_every_record_is_stored_at_the_platform_exactly_once(run: Any) -> None:
    _code, _stderr, events, platform_db = run
    stored = Counter(e["record_id"] for e in of(events, "platform.stored"))
    assert stored, "records reached the platform"
    assert set(stored.values()) == {1}
    fills = [e["record_id"] for e in of(events, "fill.completed")]
    assert len(fills) == 3
    assert all(stored[rid] == 1 for rid in fills)
    duplicates = [e["record_id"] for e in of(events, "platform.duplicate")]
    assert duplicates, "lost replies made the floor send records again"
    assert set(duplicates) <= set(stored)
    statuses = {e["status"] for e in of(events, "sync.batch")}
    assert "lost_reply" in statuses
    assert statuses & {"http_500", "http_502", "http_503"}
    # The platform's own view: the export holds each record once, and the fill chain verifies.
    export = subprocess.run(
        [sys.executable, "-m", "fillfloor.cli", "platform", "export", "--db", f"sqlite:///{platform_db}",
         "--unit", "HY0012"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    exported = [json.loads(line)["record_id"] for line in export.stdout.splitlines()]
    assert sorted(exported) == sorted(stored)
    store = open_store(f"sqlite:///{platform_db}", None)
    try:
        with store.reading() as conn:
            report = verify_unit_chain(conn, "HY0012")
    finally:
        store.close()
    assert report.ok, report
    assert report.count == 3


def test_an_inspection_pass_makes_the_overdue_cylinder_fillable(run: Any) -> None:
    _code, _stderr, events, _db = run
    s2 = [
        e for e in events if e.get("station") == "S2" and e["type"] in ("interlock.refused", "fill.completed")
    ]
    overdue = [e for e in s2 if e.get("cylinder") == "HY00120000205"]
    assert [e["type"] for e in overdue] == ["interlock.refused", "fill.completed"]
    assert overdue[0]["reasons"] == ["cylinder.inspection_overdue"]


def test_the_regulators_disable_and_block_reach_the_interlock(run: Any) -> None:
    _code, _stderr, events, _db = run
    assert ["station.disabled_by_regulator"] in _reasons(events, "S2")
    assert ["cylinder.blocked"] in _reasons(events, "S1")
    opened = [e for e in of(events, "valve.command", "S2") if e["open"]]
    assert len(opened) == 2, "S2 filled before the disable and after the enable, never between"
