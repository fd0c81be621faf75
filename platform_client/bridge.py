"""The floor's side of its platform sync process (`platform_client/process.py`): start it, nudge it
when records are written, publish its events on the floor's bus and its alarms on the floor's
board, apply a regulator's station disable, keep its figures for the console (the archives and
operators it stores reach the floor through the registry watch, as an import's do). A service of
the floor's services supervisor: if the process dies, the service ends and is started anew;
nothing is lost (the outbox is in the database, and each record is marked only once the platform
answered for it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import trio

from domain.alarm_notices import AlarmNotice
from domain.events import decode
from platform_client.process import notice_from_json, settings_line
from platform_client.settings import SyncSettings
from supervisor.runtime import EventBus
from supervisor.runtime.pipe import LineReader, LineWriter, PipeClosed
from supervisor.station.floor import FloorState

__all__ = ["SyncProcess"]


class SyncProcess:
    def __init__(self, settings: SyncSettings, db_url: str, state: FloorState, bus: EventBus,
                 *, alarm: Callable[[AlarmNotice], None] = lambda _notice: None,
                 key_refused: Callable[[], AlarmNotice | None] = lambda: None) -> None:  # fmt: skip
        self.settings = settings
        self._db_url = db_url
        self.state = state
        self.bus = bus
        self._alarm = alarm
        self._key_refused = key_refused  # (read at each start: the board may hold an earlier run's)
        self.pid: int | None = None
        self._figures: dict[str, Any] = {"status": "starting", "backlog": 0, "dead_letters": 0}
        self._nudged = trio.Event()

    def nudge(self) -> None:
        """New records are in the outbox (called by the floor's record writer)."""
        self._nudged.set()

    def figures(self) -> dict[str, Any]:
        return self._figures

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        command = [sys.executable, "-m", "platform_client.process"]
        process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = process.pid
        try:
            if process.stdin is None or process.stdout is None:  # pragma: no cover - asked for above
                raise PipeClosed("no pipe to the platform sync process")
            writer, reader = LineWriter(process.stdin), LineReader(process.stdout)
            await writer.send(settings_line(self.settings, self._db_url, self._key_refused()))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._nudges, writer)
                task_status.started()
                await self._read(reader)
        finally:
            with trio.CancelScope(shield=True):
                process.kill()
                await process.wait()

    async def _nudges(self, writer: LineWriter) -> None:
        while True:
            await self._nudged.wait()
            self._nudged = trio.Event()  # (nudges while one is written are one nudge)
            await writer.send("N\n")

    async def _read(self, reader: LineReader) -> None:
        while True:
            kind, _, rest = (await reader.line()).partition("\t")
            match kind:
                case "V":
                    event = decode(json.loads(rest))
                    if event is not None:
                        self.bus.publish(event)
                case "F":
                    figures = json.loads(rest)
                    if isinstance(figures, dict):
                        self._figures = figures
                case "L":
                    self._alarm(notice_from_json(json.loads(rest)))
                case "D":
                    station, _, flag = rest.partition("\t")
                    self.state.set_disabled(station or None, flag == "1")
                case _:
                    raise PipeClosed(f"a line of unknown kind {kind!r} from the platform sync process")
