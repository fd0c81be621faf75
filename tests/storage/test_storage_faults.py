"""Storage errors (#9): a database that refuses writes ("disk full", "disk I/O error") for a while.

A station on the real coordinator, record sink and storage writer over a real database (SQLite, and
PostgreSQL where it runs), the errors injected by `StorageFaults` as the driver raises them. While
records cannot be made durable: an alarm (on the bus, so every console shows it), no new fill (a
scan is refused with `station.fault`, the valve never opens), every record kept. Once the database
takes writes again, on its own: every record written once, the alarm cleared, the next fill runs.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
from sqlalchemy import select

from domain.checks import answered_in_full
from domain.events import AlarmCleared, AlarmRaised, FillCompleted, FloorEvent, InterlockRefused
from domain.messages import (
    CheckPhase,
    CheckSubmitted,
    IndicatorOrder,
    PermitOrder,
    Scanned,
    StationInput,
    StorageHealth,
)
from simulator.model_rig import GOOD, Rig
from supervisor.runtime.bus import EventBus
from supervisor.runtime.mailbox import Latest, Mailbox
from supervisor.storage import open_database, verify_chain
from supervisor.storage import schema as t
from supervisor.storage.sink import RecordSink
from supervisor.storage.writer import StorageWriter
from tests.support.rig_pump import coordinator_on, pump
from tests.support.storage_faults import StorageFaults

ALL_OK = answered_in_full("pre", True, {})


async def _until(events: Any, event_class: type[FloorEvent], timeout: float = 20, **fields: Any) -> None:
    with trio.fail_after(timeout):
        async for event in events:
            payload = event.payload
            if isinstance(payload, event_class) and all(getattr(payload, k) == v for k, v in fields.items()):
                return


@pytest.mark.parametrize(("db", "kind"), [("sqlite_url", "disk_full"), ("pg_url", "io_error")])
async def test_unwritable_storage_stops_new_fills_alarms_keeps_every_record_and_recovers(
    request: pytest.FixtureRequest, db: str, kind: str
) -> None:
    database = open_database(request.getfixturevalue(db))
    faults = StorageFaults()
    faults.attach(database.engine)
    writer = StorageWriter(database)
    sink = RecordSink(writer, stall_s=0.5)
    rig = Rig(flow_kg_s=3.0)
    bus = EventBus()
    events = bus.subscribe("test", capacity=100_000)
    inbox: Mailbox[StationInput] = Mailbox("S1.coordinator", 256)
    permit: Latest[PermitOrder] = Latest()
    indicator: Latest[IndicatorOrder] = Latest()
    sink.listen(lambda ok, detail: inbox.send_nowait(StorageHealth(ok, trio.current_time(), detail)))
    coordinator = coordinator_on(rig, inbox, bus, sink, permit, indicator)
    try:
        async with trio.open_nursery() as nursery:
            for run in (writer.run, sink.run, coordinator.run):
                await nursery.start(run)
            nursery.start_soon(pump, rig, inbox, permit, indicator)
            await inbox.send(Scanned("OP01", badge=True, at=trio.current_time()))
            rig.sim.place(GOOD, 15.5)
            faults.start(kind)  # the disk fills up: the pre-fill check cannot be written
            await inbox.send(
                CheckSubmitted(GOOD, CheckPhase.PRE, True, "CK01", ALL_OK, at=trio.current_time())
            )
            await _until(events, AlarmRaised, kind="storage.unavailable")
            assert not rig.core.storage_ok
            await trio.sleep(1.0)  # the reading settles
            await inbox.send(Scanned(GOOD, badge=False, at=trio.current_time()))
            await _until(events, InterlockRefused, reasons=("station.fault",))
            await trio.sleep(1.0)
            assert rig.max_mass < 15.6  # the valve never opened
            assert faults.refused > 0
            assert sink.backlog >= 3  # the check, the alarm and the refusal, kept
            faults.stop()  # space again: the writer gets through on its own
            await _until(events, AlarmCleared, kind="storage.unavailable", timeout=30)
            rig.sim.remove()  # the operator takes the cylinder off and on again, and scans
            await trio.sleep(0.5)
            rig.sim.place(GOOD, 15.5)
            await trio.sleep(1.0)
            await inbox.send(Scanned(GOOD, badge=False, at=trio.current_time()))
            await _until(events, FillCompleted, timeout=30)
            with trio.fail_after(10):
                while sink.backlog:  # noqa: ASYNC110 - the sink has no event for an empty queue
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        assert sink.failed == 0
        assert rig.max_mass > 29.0  # the fill after the recovery ran (its accuracy is not this test's)
        with database.reading() as conn:
            checks = conn.execute(select(t.check_record.c.record_id)).scalars().all()
            refusals = conn.execute(select(t.refusal.c.reasons)).scalars().all()
            alarms = conn.execute(select(t.alarm.c.kind, t.alarm.c.event).order_by(t.alarm.c.id)).all()
            fills = conn.execute(select(t.fill.c.outcome)).scalars().all()
            left_open = conn.execute(select(t.fill_open.c.record_id)).scalars().all()
            outbox = conn.execute(select(t.outbox.c.record_id)).scalars().all()
        assert len(checks) == 1
        assert refusals == [["station.fault"]]
        storage = [tuple(a) for a in alarms if a[0] == "storage.unavailable"]
        assert storage == [("storage.unavailable", "raised"), ("storage.unavailable", "cleared")]
        assert fills == ["completed"]
        assert left_open == []
        assert len(outbox) == len(set(outbox)) == len(checks) + len(refusals) + len(alarms) + len(fills)
        assert verify_chain(database.engine).ok
    finally:
        database.close()
