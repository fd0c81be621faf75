"""The storage writer: one writer, off the trio loop, committing records in groups.

Producers `await writer.write(record)` (or `write_many(records)`, in order) and get control back
once the record is durable. A trio task drains the queue, commits everything waiting in one
transaction in a worker thread (one at a time: `CapacityLimiter(1)`), then wakes each producer
(group commit; measured, docs/architecture.md: ~6.5k durable rows/s with SQLite FULL). Nothing is dropped:
- a full queue makes producers wait (back-pressure), it never discards;
- the database being unavailable (locked, disk full, connection lost: `OperationalError`) is waited
  out with backoff, the producers still waiting, and `retrying` says so for health;
- a batch refused for its content is retried record by record, so one bad record fails only its
  own producer (with the database's error) and never takes the others with it; a record offered
  again that is stored already with the same content (a lost acknowledgement, a crashed sink) is
  answered as written, another record under a used id is refused;
- a batch not yet committed when the writer is cancelled stays with it: `run` again (a supervisor
  restart) commits it first, so its producers are still answered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import trio
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from domain.backoff import Backoff
from domain.records import FillRecord, Record
from supervisor.storage.database import Database
from supervisor.storage.fills import FillLink, find_fill
from supervisor.storage.repository import already_stored, store, store_all

__all__ = ["StorageWriter"]

# A database gone: waited out from 50 ms, at most 5 s between tries.
_BACKOFF = Backoff(initial_s=0.05, max_s=5.0)


def _transient(exc: BaseException) -> bool:
    """The database, not the record, is the problem: try again later."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


class _Pending:
    __slots__ = ("done", "error", "finished", "record", "result")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.done = trio.Event()  # set on the trio thread only
        self.finished = False  # committed or refused; set by the worker thread
        self.result: FillLink | None = None
        self.error: Exception | None = None


class StorageWriter:
    def __init__(self, db: Database, *, max_batch: int = 512, queue_size: int = 4096) -> None:
        self._db = db
        self._max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[_Pending](queue_size)
        self._limiter = trio.CapacityLimiter(1)
        self._batch: list[_Pending] = []  # taken from the queue, not yet answered
        self.batches = 0  # commits made, for benchmarks and health
        self.written = 0
        self.retrying: str | None = None  # the database error being waited out, for health
        self._running = False
        self._rng = random.Random()  # the backoff's jitter

    async def write(self, record: Record) -> FillLink | None:
        """Store `record` durably; returns the fill's place in the chain for a fill, else None.

        Raises the database's error if the record itself is refused (e.g. a record id already
        used by a different record). Cancelling the caller does not withdraw a record already queued.
        """
        (pending,) = await self._enqueue_and_wait([record])
        if pending.error is not None:
            raise pending.error
        return pending.result

    async def write_many(self, records: Sequence[Record]) -> list[Exception | None]:
        """Store `records` durably, in their order; each one's refusal (the database's error) or
        None once it is durable. Queued together, they share commits with each other and with
        everyone else's: a producer with a backlog no longer pays one commit per record."""
        return [p.error for p in await self._enqueue_and_wait(records)]

    async def _enqueue_and_wait(self, records: Sequence[Record]) -> list[_Pending]:
        pendings = [_Pending(record) for record in records]
        for pending in pendings:
            await self._send.send(pending)
        for pending in pendings:
            await pending.done.wait()
        return pendings

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The writer's loop; run again after a cancel or crash, it first commits what it held."""
        if self._running:
            raise RuntimeError("this storage writer is already running: there is one writer")
        self._running = True
        try:
            task_status.started()
            while True:
                if not self._batch:
                    self._batch.append(await self._receive.receive())
                while len(self._batch) < self._max_batch:
                    try:
                        self._batch.append(self._receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                await self._flush()
        finally:
            self._running = False

    async def _flush(self) -> None:
        failures = 0
        while self._batch:
            error = await trio.to_thread.run_sync(self._commit, list(self._batch), limiter=self._limiter)
            # No checkpoint until the answers are given: a cancel arriving during the commit is
            # delivered after them, never between a commit and its acknowledgement.
            for p in self._batch:
                if p.finished:
                    p.done.set()
            self._batch = [p for p in self._batch if not p.finished]
            if error is None:
                self.retrying = None
                return
            self.retrying = f"{type(error).__name__}: {error}"
            failures += 1
            await trio.sleep(_BACKOFF.delay(failures, self._rng))

    # --- worker thread ---

    def _commit(self, batch: Sequence[_Pending]) -> Exception | None:
        """Commit the batch; None when every record is answered, else the transient error."""
        try:
            with self._db.transaction() as conn:
                results = store_all(conn, [p.record for p in batch])
        except Exception as exc:
            if _transient(exc):
                return exc
            return self._commit_each(batch)
        for p, result in zip(batch, results, strict=True):
            p.result, p.finished = result, True
        self.batches += 1
        self.written += len(batch)
        return None

    def _commit_each(self, batch: Sequence[_Pending]) -> Exception | None:
        for p in batch:  # isolate the bad record: the others still commit
            try:
                with self._db.transaction() as conn:
                    p.result = store(conn, p.record)
            except Exception as exc:
                if _transient(exc):
                    return exc
                try:
                    p.result, p.error = self._same_fill_stored(p.record, exc)
                except Exception as again:  # the database went away while it was looked up
                    if _transient(again):
                        return again
                    raise
            else:
                self.batches += 1
                self.written += 1
            p.finished = True
        return None

    def _same_fill_stored(self, record: Record, exc: Exception) -> tuple[FillLink | None, Exception | None]:
        """A record written again after a lost commit acknowledgement (or a crashed sink) is a
        success, not an error: a fill found with the same content, or a check, refusal or alarm."""
        if not isinstance(exc, IntegrityError):
            return None, exc
        with self._db.reading() as conn:
            if isinstance(record, FillRecord):
                link = find_fill(conn, record)
                if link is not None:
                    return link, None
            elif already_stored(conn, record):
                return None, None
        return None, exc
