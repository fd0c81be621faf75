"""The floor as the console process reaches it (`access.FloorAccess`): over the pipe of
supervisor/runtime/pipe.py (its lines: supervisor/console/bridge.py).

The floor sends each event once; here it is published on a bus of the process's own (the floor's
bus class: telemetry coalesced by key for a console that is behind, the rest queued up to the
console's bound, a console past it cut off), which every console follows. Snapshots are asked for
together: every console that wants one while none is on its way shares the next one asked (taken
after it began to follow the events, so it misses nothing), and they are asked at most every
`snapshot_every_s`, so a thousand consoles arriving at once cost the floor a few snapshots, not a
thousand. Commands and token lookups go to the floor, at most `max_requests` at a time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import trio
from attrs import frozen

from domain.events import FloorEvent
from supervisor.runtime.bus import EventBus, Subscription
from supervisor.runtime.maintenance import CommandResult
from supervisor.runtime.pipe import LineReader, LineWriter, PipeClosed
from supervisor.storage.users import ConsoleUser

__all__ = ["PipeAccess"]


class PipeAccess:
    def __init__(self, reader: LineReader, writer: LineWriter, *, snapshot_every_s: float = 0.25,
                 max_requests: int = 64) -> None:  # fmt: skip
        self._reader = reader
        self._writer = writer
        self._bus = EventBus()  # (its payloads: the encoded events, `_Encoded`)
        self._ids = itertools.count(1)
        self._waiting: dict[int, _Answer] = {}
        self._requests = trio.Semaphore(max_requests)
        self._snapshot_every_s = snapshot_every_s
        self._snapshot_wanted: list[_Answer] = []
        self._snapshot_wake = trio.Event()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._snapshots)
            task_status.started()
            await self._read()  # until the floor closes the pipe: then the process ends (PipeClosed)

    async def _read(self) -> None:
        while True:
            line = await self._reader.line()
            kind, _, rest = line.partition("\t")
            if kind == "E":
                key, _, text = rest.partition("\t")
                self._bus.publish(_Encoded(text), coalesce_key=key or None)
            elif kind == "R":
                answer = json.loads(rest)
                waiting = self._waiting.pop(answer.get("req"), None)
                if waiting is not None:
                    waiting.set(answer)
            else:
                raise PipeClosed(f"a line of unknown kind {kind!r} from the floor")

    def follow(self, name: str, capacity: int) -> _Feed:
        return _Feed(self._bus.subscribe(name, capacity=capacity))

    async def snapshot(self) -> dict[str, Any]:
        answer = _Answer()
        self._snapshot_wanted.append(answer)
        self._snapshot_wake.set()
        snapshot = (await answer.wait())["snapshot"]
        return snapshot if isinstance(snapshot, dict) else {}

    async def _snapshots(self) -> None:
        while True:
            await self._snapshot_wake.wait()
            self._snapshot_wake = trio.Event()
            wanting, self._snapshot_wanted = self._snapshot_wanted, []
            answer = await self._ask({"k": "snapshot"})
            for one in wanting:
                one.set(answer)
            await trio.sleep(self._snapshot_every_s)

    async def command(self, user: ConsoleUser, name: str, args: Mapping[str, Any]) -> CommandResult:
        who = [user.name, user.role, user.station]
        answer = await self._ask({"k": "command", "user": who, "name": name, "args": dict(args)})
        params = answer.get("params")
        return CommandResult(bool(answer.get("ok")), str(answer.get("code", "")),
                             params if isinstance(params, dict) else {})  # fmt: skip

    async def authenticate(self, token: str) -> ConsoleUser | None:
        who = (await self._ask({"k": "auth", "token": token})).get("user")
        if not isinstance(who, list) or len(who) != 3:
            return None
        return ConsoleUser(str(who[0]), str(who[1]), who[2] if isinstance(who[2], str) else None)

    async def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        async with self._requests:
            req = next(self._ids)
            answer = self._waiting[req] = _Answer()
            try:
                await self._writer.send(
                    "Q\t" + json.dumps({"req": req, **request}, ensure_ascii=False) + "\n"
                )
                return await answer.wait()
            finally:
                self._waiting.pop(req, None)


class _Answer:
    def __init__(self) -> None:
        self._event = trio.Event()
        self._value: dict[str, Any] = {}

    def set(self, value: dict[str, Any]) -> None:
        self._value = value
        self._event.set()

    async def wait(self) -> dict[str, Any]:
        await self._event.wait()
        return self._value


@frozen
class _Encoded(FloorEvent):
    """An event as the floor encoded it for consoles (the text each console is sent)."""

    TYPE: ClassVar[str] = "console.encoded"
    text: str


class _Feed:
    """One console's share of the events: their texts (the bus's own notices are not a console's)."""

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    async def receive(self) -> str:
        while True:
            payload = (await self._sub.receive()).payload
            if isinstance(payload, _Encoded):
                return payload.text

    def close(self) -> None:
        self._sub.close()
