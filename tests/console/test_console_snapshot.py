"""The snapshot a console gets says of each station what the station published: its state and
cylinder, its operator, its weight. Nothing of it is read from the station's core."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from domain.events import FloorEvent, OperatorLogin, OperatorLogout, StationState, StationWeight
from domain.messages import ConsoleOrder, Scanned
from simulator.in_process_floor import running_floor
from simulator.model_rig import GOOD, OPERATOR
from supervisor.console.in_process import InProcessAccess
from supervisor.console.server import ConsoleServer
from supervisor.runtime.bus import Subscription

ROOT = Path(__file__).resolve().parents[2]


def what_the_events_said(events: list[FloorEvent]) -> dict[str, Any]:
    """A station as its events tell it, read here on its own (not with the floor's own code)."""
    said: dict[str, Any] = {}
    for e in events:
        if isinstance(e, StationState):
            said |= {"state": e.state, "cylinder": e.cylinder}
        elif isinstance(e, StationWeight):
            said |= {"gross_kg": e.gross_kg, "stable": e.stable}
            said |= {"target_kg": e.target_kg, "tare_kg": e.tare_kg}
        elif isinstance(e, OperatorLogin):
            said["operator"] = e.operator
        elif isinstance(e, OperatorLogout):
            said["operator"] = None
    return said


def drain(sub: Subscription, into: list[FloorEvent]) -> None:
    while (event := sub.receive_nowait_or_none()) is not None:
        into.append(event.payload)


async def test_the_snapshot_says_what_the_station_published(tmp_path: Path) -> None:
    async with running_floor(tmp_path) as (floor, db, physics), trio.open_nursery() as nursery:
        server = ConsoleServer(InProcessAccess(floor, db), port=0)
        await nursery.start(server.run)
        parts = floor.stations["S1"]
        # Subscribed before the station says anything of its own: from here every word is heard.
        sub = floor.bus.subscribe(
            "test", coalesce=False, accept=lambda e: getattr(e.payload, "station", "") == "S1"
        )
        events: list[FloorEvent] = []
        physics["S1"].place(GOOD, 15.2)
        parts.tell(Scanned(OPERATOR.id, badge=True, at=trio.current_time()))
        parts.tell(Scanned(GOOD, badge=False, at=trio.current_time()))
        parts.tell(ConsoleOrder("pause", "王班长", trio.current_time()))
        with trio.fail_after(10):
            # Paused, and some telemetry besides (a weight), however long the machine takes.
            while not (
                any(isinstance(e, StationState) and e.state == "paused" for e in events)
                and "gross_kg" in what_the_events_said(events)
            ):
                await trio.sleep(0.05)
                drain(sub, events)
        drain(sub, events)  # ... and no checkpoint between this and the snapshot: nothing can come in between
        [station] = server.access.snapshot_now()["stations"]
        said = what_the_events_said(events)
        assert {"state", "cylinder", "operator", "gross_kg"} <= said.keys()
        assert {k: station[k] for k in said} == said
        assert (station["state"], station["cylinder"], station["operator"]) == (
            "paused",
            GOOD,
            OPERATOR.id,
        )
        assert station["operator_name"] == OPERATOR.name  # (the floor's register, not the station)
        assert isinstance(station["preact_kg"], Decimal)  # (no event carries it: the station publishes it)
        nursery.cancel_scope.cancel()


def test_the_console_never_reads_a_stations_core() -> None:
    """The core is its coordinator's alone: no `.core` anywhere in the console server."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "supervisor" / "console").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "core"
    ]
    assert not found, found
