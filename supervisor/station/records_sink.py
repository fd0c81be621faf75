"""Records from the control path to the storage writer, without the control path ever waiting.

A coordinator hands a record over with `put` (synchronous, never blocks) and goes on deciding.
The sink keeps every record in memory, in order, until the writer has made it durable; a record
leaves the queue only once written, so nothing handed over is lost. (A drain cancelled mid-write
offers that record again when it runs again: the writer takes a repeated fill as the same fill;
a repeated check or alarm is refused as a duplicate id and only counted in `failed`.)
While writes fail or stall past `stall_s`, the sink reports storage unhealthy to every station
(they stop granting permits: no fill without a record), and healthy again once a write goes through.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import trio

from supervisor.storage.records import Record

__all__ = ["RecordSink"]

HealthListener = Callable[[bool, str], None]  # (ok, detail); must not block


class Writer(Protocol):
    """What the sink needs of `supervisor.storage.writer.StorageWriter`."""

    retrying: str | None

    async def write(self, record: Record) -> object: ...


class RecordSink:
    def __init__(self, writer: Writer, *, stall_s: float = 2.0) -> None:
        self._writer = writer
        self._queue: deque[Record] = deque()
        self._wake = trio.Event()
        self._listeners: list[HealthListener] = []
        self._written_callbacks: list[Callable[[], None]] = []
        self._durable_callbacks: dict[int, Callable[[], None]] = {}  # id(record) -> its own callback
        self._stall_s = stall_s
        self.healthy = True
        self.written = 0
        self.failed = 0  # writes refused by the database for their content (a bug: alarmed)

    def listen(self, listener: HealthListener) -> None:
        self._listeners.append(listener)

    def on_written(self, callback: Callable[[], None]) -> None:
        """Call `callback` (it must not block) each time a record became durable: the platform
        sync uploads at once instead of at its next interval."""
        self._written_callbacks.append(callback)

    def put(self, record: Record, on_durable: Callable[[], None] | None = None) -> None:
        """Queue `record`; `on_durable` (it must not block) is called once it is durable."""
        self._queue.append(record)
        if on_durable is not None:
            self._durable_callbacks[id(record)] = on_durable
        self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._queue)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self._queue:
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            record = self._queue[0]
            durable = await self._write(record)
            self._queue.popleft()
            callback = self._durable_callbacks.pop(id(record), None)
            if durable and callback is not None:
                callback()

    async def _write(self, record: Record) -> bool:
        """Until the record is durable (True) or refused for good; health reported on the way."""
        done = trio.Event()
        outcome: list[BaseException | None] = []

        async def write() -> None:
            try:
                await self._writer.write(record)
                outcome.append(None)
            except Exception as exc:
                outcome.append(exc)
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write)
            with trio.move_on_after(self._stall_s):
                await done.wait()
            if not done.is_set():  # the writer is waiting out the database: say so, keep waiting
                self._report(False, self._writer.retrying or f"a record has waited over {self._stall_s} s")
                await done.wait()
        error = outcome[0]
        if error is None:
            self.written += 1
            self._report(True, "")
            for callback in self._written_callbacks:
                callback()
            return True
        # The writer waits out an unavailable database itself; what reaches here is a record the
        # database refuses for its content, which no retry mends: counted, alarmed, not retried.
        self.failed += 1
        record_id = getattr(record, "record_id", "?")
        self._report(False, f"record {record_id} refused: {type(error).__name__}: {error}")
        return False

    def _report(self, ok: bool, detail: str) -> None:
        if ok == self.healthy:
            return
        self.healthy = ok
        for listener in self._listeners:
            listener(ok, detail)
