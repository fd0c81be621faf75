"""Mailboxes, request/reply and the event bus: back-pressure, loud failures, coalescing, lag."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from supervisor.runtime.bus import Event, EventBus, SubscriberLagged
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
        bus.emit("weight", coalesce_key=("weight", "S1"), station="S1", gross_kg=15 + i / 100)
    bus.emit("fill.completed", station="S1", record_id="r1")
    bus.emit("weight", coalesce_key=("weight", "S2"), station="S2", gross_kg=20.0)
    got = [await console.receive() for _ in range(3)]
    assert got[0].type == "fill.completed"  # records first, in order
    assert [(e.fields["station"], e.fields["gross_kg"]) for e in got[1:]] == [("S1", 15.99), ("S2", 20.0)]
    assert console.coalesced == 99


async def test_a_lagging_subscriber_is_cut_off_and_reported_never_blocking(autojump_clock) -> None:
    bus = EventBus()
    slow = bus.subscribe("slow-console", capacity=10, coalesce=False)
    watcher = bus.subscribe("watcher", accept=lambda e: e.type == "bus.subscriber_lagged")
    for i in range(50):  # a publisher on the control path: never waits
        bus.publish(Event("alarm.raised", {"n": i}))
    assert "slow-console" not in bus.subscribers
    report = await watcher.receive()
    assert report.fields == {"subscriber": "slow-console", "capacity": 10}
    for _ in range(10):
        await slow.receive()  # what it had queued is still delivered
    with pytest.raises(SubscriberLagged):
        await slow.receive()


def test_events_serialise_for_the_event_file() -> None:
    assert Event("scan", {"station": "S1", "raw": "x"}).to_json_dict() == {
        "type": "scan",
        "station": "S1",
        "raw": "x",
    }
