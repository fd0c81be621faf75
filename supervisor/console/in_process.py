"""The floor as its console server reaches it in the same process (`access.FloorAccess`): the
floor's bus, its alarm board and figures, its commands, its users table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from domain.events import AlarmRaised, CheckRecorded, FillAborted, FillCompleted, FloorEvent, InterlockRefused
from supervisor.console.commands import execute
from supervisor.console.protocol import AlarmWords, encode
from supervisor.console.protocol import Event as EventMessage
from supervisor.console.snapshot import FloorFigures, SyncFigures, snapshot, wall_clock
from supervisor.floor import Floor
from supervisor.runtime.bus import Event, Subscription
from supervisor.runtime.maintenance import CommandResult
from supervisor.storage.database import Database
from supervisor.storage.users import ConsoleUser, find_user

__all__ = ["InProcessAccess"]

_FOLLOWED = (FillCompleted, FillAborted, InterlockRefused, CheckRecorded)
_ENCODED_KEPT = 512  # events whose encoding is kept for the consoles still to send them


class InProcessAccess:
    def __init__(self, floor: Floor, db: Database, sync: SyncFigures | None = None) -> None:
        self.floor = floor
        self.sync = sync  # the platform sync's figures for the shift screen, when there is one
        self._db = db
        # The floor's alarm board (its alarm desk keeps it, with or without a console): the
        # console shows it and hands it acknowledge and shelve orders.
        self.alarms = floor.alarms.board
        self.figures = FloorFigures(started_at=0.0)  # (the shift starts when the server runs)
        # Every console gets the same events: each is encoded once, not once per console (16
        # consoles cost the floor's loop one encoding, not sixteen). Keyed by identity, bounded.
        self._encoded: dict[int, tuple[Event, str]] = {}

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The shift figures, kept whether or not a console is attached (the alarms are on the
        floor's board, kept by its alarm desk)."""
        self.figures.started_at = trio.current_time()
        sub = self.floor.bus.subscribe("console-state", coalesce=False, capacity=100_000,
                                       accept=lambda e: isinstance(e.payload, _FOLLOWED))  # fmt: skip
        task_status.started()
        while True:
            event = await sub.receive()
            self.figures.on_event(event.payload, event.at)

    def follow(self, name: str, capacity: int) -> _Feed:
        return _Feed(self.floor.bus.subscribe(name, capacity=capacity), self)

    def subscribe(self, name: str, capacity: int) -> Subscription:
        """The bus itself, coalescing telemetry (for the console process's pump)."""
        return self.floor.bus.subscribe(name, capacity=capacity)

    def snapshot_now(self) -> dict[str, Any]:
        return snapshot(self.floor, self.alarms, self.figures, trio.current_time(), self.sync)

    async def snapshot(self) -> dict[str, Any]:
        return self.snapshot_now()

    async def command(self, user: ConsoleUser, name: str, args: Mapping[str, Any]) -> CommandResult:
        return await execute(self.floor, self.alarms, user, name, args)

    async def authenticate(self, token: str) -> ConsoleUser | None:
        def lookup() -> ConsoleUser | None:
            with self._db.reading() as conn:
                return find_user(conn, token)

        return await trio.to_thread.run_sync(lookup)

    def encoded(self, event: Event) -> str:
        hit = self._encoded.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        at = wall_clock(event.at, trio.current_time())
        text = encode(EventMessage(at, event.payload, self._words(event.payload)))
        self._encoded[id(event)] = (event, text)
        if len(self._encoded) > _ENCODED_KEPT:
            del self._encoded[next(iter(self._encoded))]  # the oldest
        return text

    def _words(self, payload: FloorEvent) -> AlarmWords | None:
        """A raised alarm's kind text and parameters, from the board (the event file's form of the
        event has only the floor's message); None once the alarm has left the board."""
        if not isinstance(payload, AlarmRaised):
            return None
        alarm = self.alarms.get(payload.alarm_id)
        if alarm is None or alarm.message != payload.message:  # (gone, or raised again since)
            return None
        return AlarmWords(alarm.text_name, alarm.params)


class _Feed:
    def __init__(self, sub: Subscription, access: InProcessAccess) -> None:
        self._sub = sub
        self._access = access

    async def receive(self) -> str:
        return self._access.encoded(await self._sub.receive())

    def close(self) -> None:
        self._sub.close()
