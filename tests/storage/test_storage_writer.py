"""The one storage writer: group commit without loss, a bad record fails alone, the database being
unavailable is waited out, and nothing queued is lost when the writer is cancelled and restarted."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import trio
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from domain.records import CheckRecord
from supervisor.storage import AlarmRecord, FillLink, FillRecord, StorageWriter, open_database, verify_chain
from tests.support.fill_records import fill_at_station as fill


async def test_group_commit_under_many_producers_loses_nothing(db_url: str) -> None:
    db = await trio.to_thread.run_sync(open_database, db_url)
    writer = StorageWriter(db)
    links: list[FillLink | None] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)

        async def produce(p: int) -> None:
            for i in range(25):
                links.append(await writer.write(fill(p * 100 + i)))

        async with trio.open_nursery() as producers:
            for p in range(8):
                producers.start_soon(produce, p)
        nursery.cancel_scope.cancel()
    assert sorted(link.seq for link in links if link) == list(range(1, 201))
    assert writer.batches < 200  # they were grouped
    report = await trio.to_thread.run_sync(verify_chain, db.engine)
    assert (report.ok, report.count) == (True, 200)
    db.close()


async def test_a_bad_record_fails_only_its_producer(db_url: str) -> None:
    db = await trio.to_thread.run_sync(open_database, db_url)
    writer = StorageWriter(db)
    results: dict[str, object] = {}
    conflicting = attrs.evolve(fill(1), net_kg=Decimal("9.9"))  # same record id, different record
    alarm = AlarmRecord("al1", "A1", "valve.stuck_open", "critical", "阀门未关闭", "raised",
                        "2026-11-23T08:00:00Z", "S1")  # fmt: skip
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)

        async def write(name: str, record: FillRecord | AlarmRecord) -> None:
            try:
                results[name] = await writer.write(record)
            except Exception as exc:
                results[name] = exc

        async with trio.open_nursery() as producers:
            for name, record in [("a", fill(1)), ("again", fill(1)), ("conflict", conflicting),
                                 ("alarm", alarm), ("b", fill(2))]:  # fmt: skip
                producers.start_soon(write, name, record)
        nursery.cancel_scope.cancel()
    # Either fill-0001 wins; the identical copy is the same record (a retried write), the other fails.
    first = results["a"] if isinstance(results["a"], FillLink) else results["conflict"]
    failed = [k for k in ("a", "conflict") if isinstance(results[k], Exception)]
    assert len(failed) == 1
    assert isinstance(first, FillLink)
    assert isinstance(results["b"], FillLink)
    assert results["alarm"] is None
    with db.reading() as conn:
        assert conn.execute(text("select count(*) from alarm")).scalar_one() == 1
    assert verify_chain(db.engine).count == 2
    db.close()


async def test_a_record_offered_again_is_the_same_record_and_another_under_its_id_is_refused(
    db_url: str,
) -> None:
    """A sink that crashed mid-write offers its batch again: what was stored already is answered as
    written (no duplicate error, no storage alarm), a different record under a used id is refused."""
    db = await trio.to_thread.run_sync(open_database, db_url)
    writer = StorageWriter(db)
    alarm = AlarmRecord("al1", "A1", "valve.stuck_open", "critical", "阀门未关闭", "raised",
                        "2026-11-23T08:00:00Z", "S1")  # fmt: skip
    check = CheckRecord("chk1", "HY00120000001", "pre", "pass", "CK01", "2026-11-23T08:00:01Z",
                        {"valve": "ok"}, "S1")  # fmt: skip
    other = attrs.evolve(alarm, message="另一条")
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        assert await writer.write_many([alarm, check]) == [None, None]
        assert await writer.write_many([alarm, check, fill(1)]) == [None, None, None]
        [refused] = await writer.write_many([other])
        nursery.cancel_scope.cancel()
    assert isinstance(refused, IntegrityError)
    with db.reading() as conn:
        counts = [conn.execute(text(f"select count(*) from {table}")).scalar_one()
                  for table in ("alarm", "check_record", "outbox")]  # fmt: skip
    assert counts == [1, 1, 3]
    db.close()


async def _until(condition: Callable[[], bool]) -> None:
    """Poll for the writer's answer, bounded in *real* time.

    The commit runs in a worker thread in real time (an fsync on a slow CI disk can take a second)
    while the autojump clock races ahead whenever the loop is idle, so a virtual deadline would
    expire while a healthy commit is still in progress. A lost record still fails here.
    """
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the writer did not answer within 60 s of real time"
        await trio.sleep(0.01)


def _lock(path: Path) -> sqlite3.Connection:
    """Another process's writer holding the database's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


async def test_a_locked_database_is_waited_out_and_the_producer_answered(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "floor.db"
    db = await trio.to_thread.run_sync(lambda: open_database(f"sqlite:///{path}", busy_timeout_ms=20))
    lock = _lock(path)
    writer = StorageWriter(db)
    got: list[FillLink | None] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)

        async def produce() -> None:
            got.append(await writer.write(fill(1)))

        nursery.start_soon(produce)
        await _until(lambda: writer.retrying is not None)
        assert "locked" in (writer.retrying or "")
        await trio.sleep(30)  # backs off, keeps trying, the producer keeps waiting
        assert got == []
        lock.execute("ROLLBACK")
        await _until(lambda: bool(got))
        nursery.cancel_scope.cancel()
    assert [link.seq for link in got if link] == [1]
    assert writer.retrying is None
    db.close()


async def test_records_queued_when_the_writer_is_cancelled_are_written_when_it_runs_again(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "floor.db"
    db = await trio.to_thread.run_sync(lambda: open_database(f"sqlite:///{path}", busy_timeout_ms=20))
    lock = _lock(path)
    writer = StorageWriter(db)
    got: list[FillLink | None] = []
    async with trio.open_nursery() as producers:

        async def produce(n: int) -> None:
            got.append(await writer.write(fill(n)))

        async def abandon(n: int) -> None:  # a producer cancelled after queueing its record
            with trio.move_on_after(1):
                await writer.write(fill(n))

        for n, task in ((1, produce), (2, abandon), (3, produce)):
            producers.start_soon(task, n)
        async with trio.open_nursery() as first_run:  # the writer, then a crash or a restart
            await first_run.start(writer.run)
            await _until(lambda: writer.retrying is not None)
            await trio.sleep(2)
            first_run.cancel_scope.cancel()
        assert got == []
        lock.execute("ROLLBACK")
        async with trio.open_nursery() as second_run:  # restarted by its supervisor
            await second_run.start(writer.run)
            await _until(lambda: len(got) == 2)
            second_run.cancel_scope.cancel()
    assert sorted(link.record_id for link in got if link) == ["fill-0001", "fill-0003"]
    report = verify_chain(db.engine)
    assert (report.ok, report.count) == (True, 3)  # the abandoned record was written too
    db.close()


@pytest.mark.parametrize("bad", [object(), "not a record"])
async def test_a_non_record_is_refused_to_its_producer(tmp_path: Path, bad: object) -> None:
    db = await trio.to_thread.run_sync(open_database, f"sqlite:///{tmp_path / 'f.db'}")
    writer = StorageWriter(db)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        with pytest.raises(TypeError, match="not a record"):
            await writer.write(bad)  # type: ignore[arg-type]
        assert await writer.write(fill(1)) is not None
        nursery.cancel_scope.cancel()
    db.close()
