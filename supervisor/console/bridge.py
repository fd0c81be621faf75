"""The floor's side of its console process (`child.py`): start it, feed it the floor's events,
answer its requests; a service of the floor's services supervisor, restarted with a new process if
the process dies or stops reading. Over the pipe (supervisor/runtime/pipe.py):

floor -> console process                     console process -> floor
  (first) its settings (`ChildSettings`)       (first) {"ready": PORT} or {"failed": WHY}
  E <tab> KEY <tab> EVENT-TEXT                 Q <tab> {"req": N, "k": "snapshot" | "auth" | "command", ...}
  R <tab> {"req": N, ...}   (an answer)

An event's text is the console message itself, sent as it is: the floor encodes an event once,
whatever the number of consoles. KEY is the telemetry key under which a later event replaces it for
a console that is behind (empty: never replaced).

What the floor's loop does for its consoles is then the same however many there are and whatever
they do: encode each event once and write it to one pipe (batched), build a snapshot when the
process asks (a few a second at most), carry out commands. Accepting connections, handshakes,
TLS, logins, per-console queues and WebSocket sends are the process's (issue 19: a thousand idle
sessions in the floor's own loop aborted a fill).

A console process that stops reading fills the pipe; the floor's subscription for it then falls
behind by `capacity` events and is cut off, which ends this service (and so the process): the
supervisor starts a new one. The floor never waits on it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import trio

from supervisor.console.child import ChildSettings
from supervisor.console.in_process import InProcessAccess
from supervisor.runtime.bus import Event, Subscription
from supervisor.runtime.pipe import LineReader, LineWriter, PipeClosed
from supervisor.storage.users import ConsoleUser

__all__ = ["ConsoleProcess", "ConsoleProcessFailed"]

log = logging.getLogger(__name__)

_BATCH = 256  # events per write at most
_START_TIMEOUT_S = 30.0


class ConsoleProcessFailed(Exception):
    """The console process could not start (its port, its TLS files): what it said."""


class ConsoleProcess:
    def __init__(self, access: InProcessAccess, settings: ChildSettings, *, capacity: int = 20_000,
                 max_requests: int = 64) -> None:  # fmt: skip
        self.access = access
        self.settings = settings
        self.capacity = capacity
        self.port: int | None = None
        self.pid: int | None = None
        self._requests = trio.Semaphore(max_requests)

    async def run(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        command = [sys.executable, "-m", "supervisor.console.child"]
        async with trio.open_nursery() as nursery:
            await nursery.start(self.access.run)
            process = await trio.lowlevel.open_process(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.pid = process.pid
            # Subscribed before the process is asked anything: no event falls between.
            sub = self.access.subscribe("console-process", self.capacity)
            try:
                await self._talk(process, sub, nursery, task_status)
            finally:
                sub.close()
                with trio.CancelScope(shield=True):
                    process.kill()
                    await process.wait()

    async def _talk(self, process: trio.Process, sub: Subscription, nursery: trio.Nursery,
                    task_status: trio.TaskStatus[int]) -> None:  # fmt: skip
        if process.stdin is None or process.stdout is None:  # pragma: no cover - asked for above
            raise ConsoleProcessFailed("no pipe to the console process")
        writer, reader = LineWriter(process.stdin), LineReader(process.stdout)
        await writer.send(self.settings.to_json() + "\n")
        with trio.fail_after(_START_TIMEOUT_S):
            first = json.loads(await reader.line())
        if "ready" not in first:
            raise ConsoleProcessFailed(str(first.get("failed", first)))
        self.port = int(first["ready"])
        nursery.start_soon(self._pump, sub, writer)
        task_status.started(self.port)
        await self._serve(reader, writer, nursery)

    async def _pump(self, sub: Subscription, writer: LineWriter) -> None:
        """The floor's events to the process, in order, as many per write as are waiting."""
        while True:
            lines = [self._line(await sub.receive())]
            while len(lines) < _BATCH and (more := sub.receive_nowait_or_none()) is not None:
                lines.append(self._line(more))
            await writer.send("".join(lines))

    def _line(self, event: Event) -> str:
        key = "" if event.coalesce_key is None else str(event.coalesce_key).replace("\t", " ")
        return f"E\t{key}\t{self.access.encoded(event)}\n"

    async def _serve(self, reader: LineReader, writer: LineWriter, nursery: trio.Nursery) -> None:
        while True:
            line = await reader.line()
            kind, _, rest = line.partition("\t")
            try:
                request = json.loads(rest) if kind == "Q" else None
            except ValueError:
                request = None
            if not isinstance(request, dict) or not isinstance(request.get("req"), int):
                raise PipeClosed(f"not a request from the console process: {line[:80]!r}")
            await self._requests.acquire()  # (the process asks only so many at once anyway)
            nursery.start_soon(self._answer, request, writer)

    async def _answer(self, request: Mapping[str, Any], writer: LineWriter) -> None:
        try:
            answer = await self._answer_of(request)
            text = json.dumps({"req": request["req"], **answer}, ensure_ascii=False, default=str)
            await writer.send(f"R\t{text}\n")
        finally:
            self._requests.release()

    async def _answer_of(self, request: Mapping[str, Any]) -> dict[str, Any]:
        match request.get("k"):
            case "snapshot":
                return {"snapshot": self.access.snapshot_now()}
            case "auth":
                token = request.get("token")
                user = await self.access.authenticate(token) if isinstance(token, str) else None
                return {"user": None if user is None else [user.name, user.role, user.station]}
            case "command":
                who, name, args = request.get("user"), request.get("name"), request.get("args")
                if not (
                    isinstance(who, list)
                    and len(who) == 3
                    and isinstance(name, str)
                    and isinstance(args, dict)
                ):
                    return {"ok": False, "code": "protocol.field", "params": {}}
                user = ConsoleUser(str(who[0]), str(who[1]), who[2] if isinstance(who[2], str) else None)
                result = await self.access.command(user, name, args)
                return {"ok": result.ok, "code": result.code, "params": dict(result.params)}
        return {}
