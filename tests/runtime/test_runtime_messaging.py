"""Mailboxes, request/reply and the event bus: back-pressure, loud failures, coalescing, lag."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
import trio.testing

from domain.events import (
    AlarmRaised,
    FillAborted,
    InterlockRefused,
    Scan,
    StationWeight,
    SubscriberCutOff,
    decode,
    encode,
)
from supervisor.runtime.bus import EventBus, SubscriberLagged
from supervisor.runtime.mailbox import Latest, Mailbox, MailboxFull, Reply, RequestTimeout, request


async def test_a_full_mailbox_applies_back_pressure_then_fails_loudly(autojump_clock) -> None:
    box: Mailbox[str] = Mailbox("S1.valve", capacity=2)
    box.send_nowait("close")
    await box.send("close", timeout=1)
    with pytest.raises(MailboxFull, match=r"S1\.valve: mailbox full, str not delivered"):
        box.send_nowait("open")
    start = trio.current_time()
    with pytest.raises(MailboxFull, match=r"for 0\.5 s"):
        await box.send("open", timeout=0.5)
    assert trio.current_time() - start == pytest.approx(0.5)  # the sender waited: back-pressure
    assert [box.receive_nowait(), box.receive_nowait()] == ["close", "close"]  # nothing dropped


async def test_latest_wins_for_telemetry(autojump_clock) -> None:
    weight: Latest[float] = Latest()
    for w in (15.0, 15.5, 16.0):
        weight.set(w)  # the producer never waits
    assert await weight.next() == 16.0
    assert weight.overwritten == 2
    with trio.move_on_after(1) as scope:
        await weight.next()  # nothing newer
    assert scope.cancelled_caught


async def test_request_reply_and_its_timeout(autojump_clock) -> None:
    box: Mailbox[tuple[str, Reply[str]]] = Mailbox("S1.coordinator")

    async def server() -> None:
        msg, reply = await box.receive()
        reply.send(f"state of {msg}")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        assert await request(box, lambda r: ("S1", r), timeout=1) == "state of S1"
    with pytest.raises(RequestTimeout, match=r"S1\.coordinator: no reply within 0\.2 s"):
        await request(box, lambda r: ("S1", r), timeout=0.2)


async def test_bus_coalesces_telemetry_and_keeps_every_record(autojump_clock) -> None:
    bus = EventBus()
    console = bus.subscribe("console")
    for i in range(100):
        weight = StationWeight("S1", Decimal(15) + Decimal(i) / 100, stable=False)
        bus.publish(weight, coalesce_key=("w", "S1"))
    bus.publish(FillAborted("S1", "C1", record_id="r1", reason="stopped"))
    bus.publish(StationWeight("S2", Decimal("20.0"), stable=True), coalesce_key=("w", "S2"))
    got = [(await console.receive()).payload for _ in range(3)]
    assert got[0] == FillAborted("S1", "C1", record_id="r1", reason="stopped")  # records first, in order
    assert [(w.station, w.gross_kg) for w in got[1:]] == [("S1", Decimal("15.99")), ("S2", Decimal("20.0"))]
    assert console.coalesced == 99


async def test_a_lagging_subscriber_is_cut_off_and_reported_never_blocking(autojump_clock) -> None:
    bus = EventBus()
    slow = bus.subscribe("slow-console", capacity=10, coalesce=False)
    watcher = bus.subscribe("watcher", accept=lambda e: isinstance(e.payload, SubscriberCutOff))
    for i in range(50):  # a publisher on the control path: never waits
        bus.publish(AlarmRaised(f"A{i}", "device.scale_lost", "high", "与秤失去联系"))
    assert "slow-console" not in bus.subscribers
    report = await watcher.receive()
    assert report.payload == SubscriberCutOff("slow-console", 10)
    for _ in range(10):
        await slow.receive()  # what it had queued is still delivered
    with pytest.raises(SubscriberLagged):
        await slow.receive()


def test_events_serialise_for_the_event_file_and_read_back() -> None:
    scan = Scan("S1", raw="x")
    assert encode(scan) == {"type": "scan", "station": "S1", "raw": "x"}  # no code: left out, not null
    assert decode(encode(scan)) == scan
    refused = InterlockRefused("S1", "C1", reasons=["cylinder.unknown"])
    assert encode(refused)["reasons"] == ("cylinder.unknown",)
    assert decode({**encode(refused), "later_field": 1}) == refused  # a newer writer's field is left aside
    assert decode({"type": "sim.mass", "station": "S1"}) is None  # the simulator's own lines
