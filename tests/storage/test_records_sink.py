"""The record sink over the real storage writer: a backlog shares commits, in order, and a record
the database refuses fails alone (counted, reported) while the others become durable."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs
import pytest
import trio
import trio.testing
from sqlalchemy import text

from supervisor.runtime import ChildSpec, EventBus, Supervisor
from supervisor.storage import Record, StorageWriter, open_database, verify_chain
from supervisor.storage.sink import RecordSink
from tests.support.fill_records import fill_at_station as fill


async def _sink_writes(writer: StorageWriter, sink: RecordSink, last: Record) -> None:
    """Put `last` behind what is queued, run the writer and the sink until it is durable, stop."""
    last_durable = trio.Event()
    sink.put(last, on_durable=last_durable.set)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await nursery.start(sink.run)
        with trio.fail_after(30):
            await last_durable.wait()
        nursery.cancel_scope.cancel()
    assert sink.backlog == 0


async def test_a_backlog_is_committed_in_a_few_groups_in_the_order_it_was_put(db_url: str) -> None:
    db = await trio.to_thread.run_sync(open_database, db_url)
    writer = StorageWriter(db)
    sink = RecordSink(writer)
    durable: list[str] = []
    wakes: list[None] = []
    sink.on_written(lambda: wakes.append(None))
    # 300 records queued while nothing drains them: a station's backlog behind a busy database.
    for n in range(300):
        record = fill(n)
        sink.put(record, on_durable=lambda rid=record.record_id: durable.append(rid))
    await _sink_writes(writer, sink, fill(300))
    assert durable == [f"fill-{n:04d}" for n in range(300)]  # each callback, in order
    assert (sink.written, sink.failed, sink.healthy) == (301, 0, True)
    # One commit per record before; a backlog now shares its commits (512 per batch at most).
    assert writer.batches <= 3
    assert 1 <= len(wakes) <= 3
    with db.reading() as conn:
        order = [r for (r,) in conn.execute(text("SELECT record_id FROM fill ORDER BY seq"))]
    assert order == [*durable, "fill-0300"]
    report = await trio.to_thread.run_sync(verify_chain, db.engine)
    assert (report.ok, report.count) == (True, 301)
    db.close()


async def test_a_refused_record_in_a_batch_fails_alone(db_url: str) -> None:
    db = await trio.to_thread.run_sync(open_database, db_url)
    writer = StorageWriter(db)
    sink = RecordSink(writer)
    health: list[tuple[bool, str]] = []
    sink.listen(lambda ok, detail: health.append((ok, detail)))
    durable: list[str] = []
    conflicting = attrs.evolve(fill(1), net_kg=Decimal("9.9"))  # fill-0001 again, different content
    for record in (fill(0), fill(1), conflicting):
        sink.put(record, on_durable=lambda rid=record.record_id: durable.append(rid))
    await _sink_writes(writer, sink, fill(2))
    assert durable == ["fill-0000", "fill-0001"]  # and fill-0002, which set last_durable
    assert (sink.written, sink.failed) == (3, 1)
    # Told unhealthy for the refused record (named), healthy again with the record after it.
    assert [ok for ok, _ in health] == [False, True]
    assert "fill-0001 refused" in health[0][1]
    report = await trio.to_thread.run_sync(verify_chain, db.engine)
    assert (report.ok, report.count) == (True, 3)
    db.close()


async def test_a_floor_stopping_writes_what_its_sink_still_holds(db_url: str) -> None:
    """The stations' last records (an interrupted fill, alarms cleared, a check) are queued in the
    sink as the floor stops: the sink is stopped before the writer, and hands them over first."""
    db = await trio.to_thread.run_sync(open_database, db_url)
    writer = StorageWriter(db)
    sink = RecordSink(writer)
    floor = Supervisor("floor", [ChildSpec("storage", writer.run), ChildSpec("records", sink.run)],
                       bus=EventBus())  # fmt: skip
    async with trio.open_nursery() as nursery:
        await nursery.start(floor.run)
        for n in range(200):
            sink.put(fill(n))
        nursery.cancel_scope.cancel()  # the floor stops with all 200 still queued
    assert (sink.backlog, sink.written) == (0, 200)
    report = await trio.to_thread.run_sync(verify_chain, db.engine)
    assert (report.ok, report.count) == (True, 200)
    db.close()


class _CrashOnceWriter:
    """A writer whose first hand-over raises (a bug), then writes."""

    retrying: str | None = None

    def __init__(self) -> None:
        self.crashed = False
        self.records: list[Record] = []

    async def write_many(self, records: Sequence[Record]) -> list[Exception | None]:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("a bug in the writer")
        self.records.extend(records)
        return [None] * len(records)


async def test_a_writer_that_raises_crashes_the_sink_with_its_records_still_queued() -> None:
    """Answering the whole batch as refused would drop it; crashing keeps it for the restart."""
    writer = _CrashOnceWriter()
    sink = RecordSink(writer)
    for n in range(3):
        sink.put(fill(n))
    with pytest.raises(ExceptionGroup) as crashed, trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(sink.run)
    assert crashed.group_contains(RuntimeError, match="a bug in the writer")
    assert (sink.backlog, sink.failed) == (3, 0)
    async with trio.open_nursery() as nursery:  # what a supervisor's restart does
        await nursery.start(sink.run)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert sink.backlog == 0
    assert [r.record_id for r in writer.records] == [f"fill-{n:04d}" for n in range(3)]
