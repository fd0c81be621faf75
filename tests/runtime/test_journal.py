"""What serve tells its journal: a line per state change, alarm, refusal and fill, as text or JSON,
device text without control characters, telemetry left out."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import trio

from domain.events import AlarmRaised, InterlockRefused, StationState, StationWeight
from supervisor.journal import Journal
from supervisor.runtime import EventBus


async def _journal(json_lines: bool) -> str:
    bus, out = EventBus(), io.StringIO()
    async with trio.open_nursery() as nursery:
        await nursery.start(Journal(bus, out, json_lines=json_lines).run)
        bus.publish(StationState("S1", "filling", "HY00120000123"))
        bus.publish(StationWeight("S1", Decimal("20.5"), True), coalesce_key=("weight", "S1"))
        bus.publish(
            AlarmRaised("S1.scale_lost", "device.scale_lost", "high", "scale lost: \x1b[2Jgone", "S1")
        )
        bus.publish(InterlockRefused("S2", "HY00120000999", ("cylinder.unknown",)))
        with trio.fail_after(10):
            while out.getvalue().count("\n") < 3:  # noqa: ASYNC110 - written from a worker thread
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    return out.getvalue()


async def test_text_lines_say_when_how_bad_where_and_what() -> None:
    lines = (await _journal(False)).splitlines()
    assert len(lines) == 3  # the weight is not a journal line
    assert lines[0].split(" ", 1)[1] == 'INFO S1 station.state state="filling" cylinder="HY00120000123"'
    assert " ERROR S1 alarm.raised " in lines[1]
    assert "\x1b" not in lines[1]
    assert 'reasons=["cylinder.unknown"]' in lines[2]


async def test_json_lines_are_one_object_each() -> None:
    objects = [json.loads(line) for line in (await _journal(True)).splitlines()]
    assert [(o["level"], o["event"], o["station"]) for o in objects] == [
        ("info", "station.state", "S1"),
        ("error", "alarm.raised", "S1"),
        ("info", "interlock.refused", "S2"),
    ]
    assert all("time" in o for o in objects)
