"""The coordinator actor on trio: messages in, orders and events out, never waiting on storage.

The devices are the station physics pumped by a task at 20 Hz (the device actors' job, done
in-process here); the storage writer is a stand-in whose speed the test controls, so that a
stalled database can be shown not to hold up a cut-off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

import pytest
import trio
import trio.testing

from domain.checks import answered_in_full
from domain.events import encode
from domain.messages import (
    CheckPhase,
    CheckSubmitted,
    IndicatorOrder,
    PermitOrder,
    Scanned,
    StationInput,
    StorageHealth,
    WeightSample,
)
from domain.records import FillOpened, FillRecord, Record
from simulator.model_rig import GOOD, Rig
from supervisor.runtime.bus import EventBus
from supervisor.runtime.mailbox import Latest, Mailbox, MailboxFull
from supervisor.storage.sink import RecordSink
from tests.support.rig_pump import coordinator_on, pump


class SlowWriter:
    """Stands in for the storage writer: each write takes `delay` seconds (virtual)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.delay_after_marker = 0.0  # the database stalls once a fill's open marker is written
        self.retrying: str | None = None
        self.records: list[Record] = []

    async def write(self, record: Record) -> None:
        await trio.sleep(self.delay)
        self.records.append(record)
        if isinstance(record, FillOpened) and self.delay_after_marker:
            self.delay = self.delay_after_marker

    async def write_many(self, records: Sequence[Record]) -> list[None]:
        for record in records:
            await self.write(record)
        return [None] * len(records)


async def _present_a_checked_cylinder(rig: Rig, inbox: Mailbox[StationInput]) -> None:
    """The operator's badge, the cylinder's pre-fill check, the cylinder on the scale, its label."""
    now = trio.current_time()
    await inbox.send(Scanned("OP01", badge=True, at=now))
    await inbox.send(
        CheckSubmitted(GOOD, CheckPhase.PRE, True, "CK01", answered_in_full("pre", True, {}), at=now)
    )
    rig.sim.place(GOOD, 15.5)
    await trio.sleep(1.5)
    await inbox.send(Scanned(GOOD, badge=False, at=trio.current_time()))


async def _fill_once(
    writer: SlowWriter,
    cutoff: str = "host",
    stall_from_start: float = 0.0,
    watch: Callable[[Latest[PermitOrder]], Awaitable[None]] | None = None,
    fields: list[dict[str, object]] | None = None,
) -> tuple[Rig, list[str], RecordSink, list[bool]]:
    """One fill through the actor; returns what was seen, and the station's storage health at the
    fill's end, 2 s later and after the stall (if the database stalls once the fill is under way)."""
    rig = Rig(cutoff=cutoff)
    bus = EventBus()
    events = bus.subscribe("test", capacity=10_000)
    inbox: Mailbox[StationInput] = Mailbox("S1.coordinator", 256)
    permit: Latest[PermitOrder] = Latest()
    indicator: Latest[IndicatorOrder] = Latest()
    sink = RecordSink(writer, stall_s=1.0)
    sink.listen(lambda ok, detail: inbox.send_nowait(StorageHealth(ok, trio.current_time(), detail)))
    coordinator = coordinator_on(rig, inbox, bus, sink, permit, indicator)
    seen: list[str] = []
    health: list[bool] = []
    # The database stalls once the fill is under way: its valve opens once its marker is durable.
    writer.delay_after_marker = stall_from_start
    async with trio.open_nursery() as nursery:
        await nursery.start(sink.run)
        await nursery.start(coordinator.run)
        nursery.start_soon(pump, rig, inbox, permit, indicator)
        if watch is not None:
            nursery.start_soon(watch, permit)
        await _present_a_checked_cylinder(rig, inbox)
        with trio.fail_after(120):
            async for event in events:
                seen.append(event.type)
                if fields is not None:
                    fields.append({**encode(event.payload), "at": event.at})
                if event.type in ("fill.completed", "fill.aborted"):
                    break
        health.append(rig.core.storage_ok)
        await trio.sleep(2)
        health.append(rig.core.storage_ok)
        writer.delay = 0  # the database recovers (the write in progress still takes its time)
        await trio.sleep(stall_from_start + 1)
        health.append(rig.core.storage_ok)
        nursery.cancel_scope.cancel()
    return rig, seen, sink, health


async def test_a_fill_runs_through_the_actor_and_its_records_reach_the_writer(
    autojump_clock: trio.abc.Clock,
) -> None:
    writer = SlowWriter()
    rig, seen, _, health = await _fill_once(writer, cutoff="indicator")
    assert health == [True, True, True]
    assert seen.count("valve.command") == 2
    assert "fill.completed" in seen
    assert 29.5 < rig.max_mass < 29.9  # ground truth: cut off on target
    assert next(r for r in writer.records if isinstance(r, FillRecord)).outcome == "completed"


async def test_a_stalled_database_never_delays_the_cut_off(autojump_clock: trio.abc.Clock) -> None:
    writer = SlowWriter()
    rig, seen, sink, health = await _fill_once(writer, stall_from_start=60.0)  # a minute per record
    assert "fill.completed" in seen  # cut off on time all the same
    assert 29.5 < rig.max_mass < 29.9
    # The fill's record waits in the sink; the station learns of the stall (no new permits) and of
    # the recovery, and the record is written in the end: none lost.
    assert health == [True, False, True]
    assert sink.backlog == 0
    assert any(isinstance(r, FillRecord) for r in writer.records)


class MarkerSlowWriter(SlowWriter):
    """A fill's open marker takes `marker_s` to become durable; every other record is quick."""

    def __init__(self, marker_s: float) -> None:
        super().__init__()
        self.marker_s = marker_s
        self.marker_durable_at: float | None = None

    async def write(self, record: Record) -> None:
        if isinstance(record, FillOpened):
            await trio.sleep(self.marker_s)
            self.marker_durable_at = trio.current_time()
        self.records.append(record)


@pytest.mark.parametrize(
    ("marker_s", "cutoff"),
    # Beyond the valve's feedback timeout (1 s) and the no-flow window (5 s): a busy database
    # delays the fill, it must not abort it (it did, as valve.feedback_mismatch, under 32 stations).
    [(0.8, "host"), (3.0, "indicator"), (3.0, "host"), (8.0, "indicator")],
)
async def test_the_valve_opens_only_once_the_fills_marker_is_durable(
    autojump_clock: trio.abc.Clock, marker_s: float, cutoff: str
) -> None:
    """A supervisor killed during a fill must leave its marker (then recorded as interrupted): no
    permit is energised before it is durable, however slow the database, and the fill goes on."""
    writer = MarkerSlowWriter(marker_s=marker_s)
    opened_at: list[float] = []

    async def watch(permit: Latest[PermitOrder]) -> None:
        while True:
            order = await permit.next()
            if order.open:
                opened_at.append(trio.current_time())

    rig, seen, _, _ = await _fill_once(writer, cutoff=cutoff, watch=watch)
    assert "fill.aborted" not in seen
    assert "fill.completed" in seen
    assert 29.5 < rig.max_mass < 29.9
    assert writer.marker_durable_at is not None
    assert opened_at
    assert opened_at[0] >= writer.marker_durable_at
    marker = next(r for r in writer.records if isinstance(r, FillOpened))
    fill = next(r for r in writer.records if isinstance(r, FillRecord))
    assert marker.record_id == fill.record_id


async def test_a_marker_that_never_becomes_durable_ends_the_fill_before_its_valve_opens(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The database down once a fill is decided: the station does not show a fill for two minutes
    and then call it too long; past `marker_timeout_s` it ends it as station.fault, valve closed."""
    writer = MarkerSlowWriter(marker_s=600.0)
    events: list[dict[str, object]] = []
    t0 = trio.current_time()
    rig, seen, _, _ = await _fill_once(writer, fields=events)
    aborted = next(e for e in events if e["type"] == "fill.aborted")
    assert aborted["reason"] == "station.fault"
    assert "valve.command" not in seen  # never ordered open
    assert rig.max_mass < 15.6  # ground truth: no gas went in
    # placed, scanned, judged over the stable window (0.5 s); then the marker timeout
    assert aborted["at"] - t0 < 1.5 + 0.5 + 15 + 1


async def test_a_marker_durable_behind_a_full_inbox_does_not_overtake_what_is_queued(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The inbox is full when a fill's marker becomes durable, with the cylinder's removal in it: the
    marker must be taken after the removal (the fill ends, valve never opened), not ahead of it."""
    rig = Rig(cutoff="host")
    bus = EventBus()
    events = bus.subscribe("test", capacity=10_000)
    inbox: Mailbox[StationInput] = Mailbox("S1.coordinator", 16)
    permit: Latest[PermitOrder] = Latest()
    indicator: Latest[IndicatorOrder] = Latest()
    markers: list[Callable[[], None]] = []

    class MarkerHoldingSink(RecordSink):
        """Records stay queued (nobody drains it); the test says when the marker is durable."""

        def put(self, record: Record, on_durable: Callable[[], None] | None = None) -> None:
            super().put(record, on_durable)
            if isinstance(record, FillOpened) and on_durable is not None:
                markers.append(on_durable)

    sink = MarkerHoldingSink(SlowWriter())
    coordinator = coordinator_on(rig, inbox, bus, sink, permit, indicator)
    async with trio.open_nursery() as nursery:
        await nursery.start(coordinator.run)
        nursery.start_soon(pump, rig, inbox, permit, indicator)
        await _present_a_checked_cylinder(rig, inbox)
        await trio.sleep(2)
        assert markers  # the fill decided, its marker waiting, its valve closed
        assert (rig.core.phase.value, rig.core.permit) == ("filling", False)
        # All at once, without a checkpoint: the cylinder lifted off, the inbox filled with what
        # the scale says, then the marker durable.
        rig.sim.remove()
        lifted = WeightSample(Decimal("0.00"), True, trio.current_time())
        with contextlib.suppress(MailboxFull):
            for _ in range(100):
                inbox.send_nowait(lifted)
        assert inbox.pending() == 16
        markers[0]()
        assert not (permit.peek() or PermitOrder(False, "")).open
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    seen = []
    while (event := events.receive_nowait_or_none()) is not None:
        seen.append(encode(event.payload))
    assert not [e for e in seen if e["type"] == "valve.command" and e.get("open")]
    aborted = next(e for e in seen if e["type"] == "fill.aborted")
    assert aborted["reason"] == "fill.cylinder_removed"
    assert rig.max_mass < 15.6


async def test_the_weight_shown_while_filling_carries_the_cylinders_tare_and_target(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The console's bar is the net filled, tare → target: the station says both while it fills."""
    fields: list[dict[str, object]] = []
    await _fill_once(SlowWriter(), fields=fields)
    filling = [f for f in fields if f["type"] == "station.weight" and f.get("target_kg") is not None]
    assert filling
    assert {(f["tare_kg"], f["target_kg"]) for f in filling} == {(Decimal("15.2"), Decimal("29.7"))}
