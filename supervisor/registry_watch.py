"""A running floor picks up registry changes made beside it: `fillfloor registry import` and
`fillfloor operators import` write to the database from another process, and the floor decides
from its in-memory registry (`FloorState`), so without this an import changed nothing until a
restart.

Every change to the archives or operators bumps a counter in its own transaction
(supervisor/storage/registry_changes.py). The watch reads that one number every `period_s`, in a
worker thread (the loop never waits on the database); when it moved, it reads the archives and
operators, again in the thread, and compares them with what it read the time before, so that only
what changed in the database is applied. (A platform change the sync has already put into the
floor's state, but whose write is not read yet, is not undone by an older copy.) The changes are
applied in one synchronous step on the loop: a scan judges against the registry before or after
the import, never half of it. Holds are not reloaded: the floor is their only writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import trio
from attrs import frozen
from sqlalchemy import Connection

from domain.archive import CylinderArchive, Operator
from domain.events import FloorEvent, RegistryReloaded
from supervisor.station.floor import FloorState
from supervisor.storage.database import Database
from supervisor.storage.registry_changes import registry_changes
from supervisor.storage.repository import load_archives, load_operators

__all__ = ["RegistrySnapshot", "RegistryWatch", "read_registry"]


@frozen
class RegistrySnapshot:
    """The registry as read in one transaction, with the change count it was read at."""

    changes: int
    archives: Mapping[str, CylinderArchive]
    operators: Mapping[str, Operator]


def read_registry(conn: Connection) -> RegistrySnapshot:
    return RegistrySnapshot(registry_changes(conn), load_archives(conn), load_operators(conn))


@frozen
class _Diff:
    snapshot: RegistrySnapshot
    archives: list[CylinderArchive]
    operators: list[Operator]


K = TypeVar("K")
V = TypeVar("V")


def _changed(before: Mapping[K, V], now: Mapping[K, V]) -> list[V]:
    return [value for key, value in now.items() if before.get(key) != value]


class RegistryWatch:
    def __init__(
        self,
        db: Database,
        state: FloorState,
        publish: Callable[[FloorEvent], None],
        start: RegistrySnapshot,
        *,
        period_s: float = 1.0,
    ) -> None:
        self._db = db
        self._state = state
        self._publish = publish
        self._seen = start  # (the floor's state was built from it)
        self.period_s = period_s
        self._limiter = trio.CapacityLimiter(1)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.period_s)
            diff = await trio.to_thread.run_sync(self._read, self._seen, limiter=self._limiter)
            if diff is not None:
                self._apply(diff)

    def _read(self, seen: RegistrySnapshot) -> _Diff | None:
        """In a worker thread: None while the count stands, else what changed since `seen`."""
        with self._db.reading() as conn:
            if registry_changes(conn) == seen.changes:
                return None
            now = read_registry(conn)
        return _Diff(now, _changed(seen.archives, now.archives), _changed(seen.operators, now.operators))

    def _apply(self, diff: _Diff) -> None:
        # One synchronous step: no checkpoint between the first change and the last.
        for archive in diff.archives:
            self._state.put_archive(archive)
        for operator in diff.operators:
            self._state.put_operator(operator)
        self._seen = diff.snapshot
        if diff.archives or diff.operators:  # (not for a change the platform sync applied itself)
            self._publish(RegistryReloaded(archives=len(diff.archives), operators=len(diff.operators)))
