"""Records from the control path to the storage writer, without the control path ever waiting.

A coordinator hands a record over with `put` (synchronous, never blocks) and goes on deciding.
The sink keeps every record in memory, in order, until the writer has made it durable; a record
leaves the queue only once written, so nothing handed over is lost. Everything queued goes to the
writer at once (up to `max_batch`), in order, so a backlog shares commits instead of paying one
commit per record (the 32-station soak saw 10-50 records, and fills waiting on their open marker,
queued behind one-at-a-time writes). A stop lets the write under way finish and hands over what
is queued (`run`, within `stop_s`). A sink that crashed mid-write, or whose stop cut a write short,
offers those records again when it runs again:
the writer takes a record stored already, with the same content, as written (an audit row, which
has no id, is written twice then).
While writes fail or stall past `stall_s`, the sink reports storage unhealthy to every station
(they stop granting permits: no fill without a record), and healthy again once a write goes through.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import NamedTuple, Protocol

import trio

from domain.records import Record

__all__ = ["RecordSink"]

HealthListener = Callable[[bool, str], None]  # (ok, detail); must not block


class _Queued(NamedTuple):
    record: Record
    on_durable: Callable[[], None] | None  # called once the record is durable (must not block)


class Writer(Protocol):
    """What the sink needs of `supervisor.storage.writer.StorageWriter`."""

    retrying: str | None

    async def write_many(self, records: Sequence[Record]) -> Sequence[Exception | None]: ...


class RecordSink:
    def __init__(
        self, writer: Writer, *, stall_s: float = 2.0, max_batch: int = 512, stop_s: float = 4.0
    ) -> None:
        self._writer = writer
        # Each record with its own durable callback (a fill's open marker: the permit waits on it),
        # kept together so the callback follows its record, not an object's identity.
        self._queue: deque[_Queued] = deque()
        self._wake = trio.Event()
        self._listeners: list[HealthListener] = []
        self._written_callbacks: list[Callable[[], None]] = []
        self._stall_s = stall_s
        self._max_batch = max_batch
        self._stop_s = stop_s
        self._running = False
        self.healthy = True
        self.written = 0
        self.failed = 0  # writes refused by the database for their content (a bug: alarmed)

    def listen(self, listener: HealthListener) -> None:
        self._listeners.append(listener)

    def on_written(self, callback: Callable[[], None]) -> None:
        """Call `callback` (it must not block) each time records became durable: the platform
        sync uploads at once instead of at its next interval."""
        self._written_callbacks.append(callback)

    def put(self, record: Record, on_durable: Callable[[], None] | None = None) -> None:
        """Queue `record`; `on_durable` (it must not block) is called once it is durable."""
        self._queue.append(_Queued(record, on_durable))
        self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write what is put, in order, until stopped; then what is still queued, within `stop_s`.

        The floor stops its stations first (their last records, an interrupted fill among them,
        are queued here) and the writer last. So a stop is not a cancel of the write under way (it
        would be offered again: duplicates) nor of the queue (lost): the work runs shielded, and
        the stop only sets it a deadline (within the supervisor's shutdown timeout of 5 s; a
        database that is down then loses what it could not take, and a fill among it is recorded
        from its marker at the next start)."""
        if self._running:
            raise RuntimeError("this record sink is already running: one drain, one order")
        self._running = True
        work = trio.CancelScope(shield=True)
        stopping = False

        async def until_stopped() -> None:
            nonlocal stopping
            try:
                await trio.sleep_forever()
            finally:
                stopping = True
                work.deadline = trio.current_time() + self._stop_s
                self._wake.set()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(until_stopped)
                task_status.started()
                with work:
                    while self._queue or not stopping:
                        if not self._queue:
                            self._wake = trio.Event()
                            await self._wake.wait()
                            continue
                        await self._write_next()
        finally:
            self._running = False

    async def _write_next(self) -> None:
        """The oldest records, in order; those put meanwhile wait for the next batch."""
        batch = list(islice(self._queue, self._max_batch))
        errors = await self._write([queued.record for queued in batch])
        any_written = False
        for (record, callback), error in zip(batch, errors, strict=True):
            self._queue.popleft()
            if error is None:
                self.written += 1
                any_written = True
                self._report(True, "")
                if callback is not None:
                    callback()
            else:
                # The writer waits out an unavailable database itself; what reaches here is a
                # record refused for its content, which no retry mends: counted, alarmed.
                self.failed += 1
                record_id = getattr(record, "record_id", "?")
                self._report(False, f"record {record_id} refused: {type(error).__name__}: {error}")
        if any_written:
            for written in self._written_callbacks:
                written()

    async def _write(self, batch: list[Record]) -> Sequence[Exception | None]:
        """Until every record of `batch` is durable or refused; a stall reported on the way."""
        done = trio.Event()
        outcome: list[Sequence[Exception | None]] = []

        async def write() -> None:
            # A refusal is an answer (per record); an exception is a bug that crashes the sink with
            # the batch still queued: restarted, it offers the batch again (the writer takes what
            # it stored already as written), where answering it refused would drop 512 records.
            outcome.append(await self._writer.write_many(batch))
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            with trio.move_on_after(self._stall_s):
                await done.wait()
            if not done.is_set():  # the writer is waiting out the database: say so, keep waiting
                self._report(False, self._writer.retrying or f"a record has waited over {self._stall_s} s")
                await done.wait()
        return outcome[0]

    def _report(self, ok: bool, detail: str) -> None:
        if ok == self.healthy:
            return
        self.healthy = ok
        for listener in self._listeners:
            listener(ok, detail)
