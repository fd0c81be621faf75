"""The platform sync's side of the floor's database, off the trio loop.

The outbox (records waiting for the platform) and the local registry live in the floor's database;
the storage writer keeps writing records while the sync reads and marks them. Each call here is one
short transaction in a worker thread, one at a time; a thread once started finishes its
transaction even if the sync is cancelled, so a page of registry changes and its cursor commit
together or not at all, and a batch's marks are never half-made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import trio
from attrs import frozen
from sqlalchemy import Connection

from platform_client.registry_changes import (
    ArchiveUpdate,
    DisableUpdate,
    InspectionUpdate,
    OperatorUpdate,
    RegistryUpdate,
)
from supervisor.storage.database import Database
from supervisor.storage.outbox import (
    OutboxItem,
    anchor_acknowledged_fills,
    dead_letter,
    dead_letter_count,
    dead_letters,
    mark_failed,
    mark_sent,
    outbox_backlog,
    pending_outbox,
)
from supervisor.storage.registry import (
    get_cursor,
    record_inspection,
    set_cursor,
    set_regulator_disabled,
    upsert_archives,
    upsert_operators,
)

__all__ = ["DeadLetter", "OutboxFigures", "SyncStore"]

T = TypeVar("T")
_SHOWN_DEAD_LETTERS = 20


@frozen
class DeadLetter:
    record_id: str
    kind: str
    reason: str


@frozen
class OutboxFigures:
    backlog: int  # records waiting for the platform
    dead_letters: int
    recent_dead_letters: tuple[DeadLetter, ...]  # newest first, for the console


def _figures(conn: Connection) -> OutboxFigures:
    dead = dead_letter_count(conn)
    recent = tuple(
        DeadLetter(d.record_id, d.kind, d.dead_letter or "")
        for d in (dead_letters(conn, _SHOWN_DEAD_LETTERS, newest_first=True) if dead else ())
    )
    return OutboxFigures(outbox_backlog(conn), dead, recent)


def _apply(conn: Connection, updates: Iterable[RegistryUpdate]) -> None:
    for u in updates:
        if isinstance(u, ArchiveUpdate):
            upsert_archives(conn, [u.archive])
        elif isinstance(u, OperatorUpdate):
            upsert_operators(conn, [u.operator])
        elif isinstance(u, DisableUpdate):
            set_regulator_disabled(conn, u.station, u.disabled)
        elif isinstance(u, InspectionUpdate):
            record_inspection(conn, u.code, u.inspected_on, u.result, u.next_inspection, u.agency)


class SyncStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._limiter = trio.CapacityLimiter(1)

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._db.transaction() as conn:
                return fn(conn)

        return await trio.to_thread.run_sync(run, limiter=self._limiter)

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._db.reading() as conn:
                return fn(conn)

        return await trio.to_thread.run_sync(run, limiter=self._limiter)

    async def pending(self, limit: int) -> list[OutboxItem]:
        """The oldest records not yet accepted nor dead-lettered."""
        return await self._read(lambda conn: pending_outbox(conn, limit))

    async def settle(self, accepted: Sequence[str], rejected: Mapping[str, str]) -> OutboxFigures:
        """The platform's answer: accepted records are sent, rejected ones dead-lettered."""

        def write(conn: Connection) -> OutboxFigures:
            mark_sent(conn, accepted)
            anchor_acknowledged_fills(conn, accepted)
            for record_id, reason in rejected.items():
                dead_letter(conn, record_id, reason)
            return _figures(conn)

        return await self._write(write)

    async def failed(self, record_ids: Sequence[str], next_try_at: str) -> OutboxFigures:
        """An attempt that got no usable answer: counted on each record, tried again later."""

        def write(conn: Connection) -> OutboxFigures:
            mark_failed(conn, record_ids, next_try_at)
            return _figures(conn)

        return await self._write(write)

    async def figures(self) -> OutboxFigures:
        return await self._read(_figures)

    async def backlog(self) -> int:
        return await self._read(outbox_backlog)

    async def cursor(self) -> int:
        def read(conn: Connection) -> int:
            text = get_cursor(conn)
            return int(text) if text and text.isdigit() else 0

        return await self._read(read)

    async def apply(self, updates: Sequence[RegistryUpdate], cursor: int) -> None:
        """Store a page of registry changes and the cursor after them, in one transaction."""

        def write(conn: Connection) -> None:
            _apply(conn, updates)
            set_cursor(conn, str(cursor))

        await self._write(write)
