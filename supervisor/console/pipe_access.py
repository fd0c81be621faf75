"""The floor as the console process reaches it (`access.FloorAccess`): over the pipe of `pipe.py`.

The floor sends each event once; here it is handed to every console's feed (telemetry coalesced by
key for a console that is behind, the rest queued up to the console's bound, as the floor's own bus
does). Snapshots are asked for together: every console that wants one while none is on its way
shares the next one asked (taken after it began to follow the events, so it misses nothing), and
they are asked at most every `snapshot_every_s`, so a thousand consoles arriving at once cost the
floor a few snapshots, not a thousand. Commands and token lookups go to the floor, at most
`max_requests` at a time.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any

import trio

from supervisor.runtime.bus import SubscriberLagged
from supervisor.runtime.maintenance import CommandResult
from supervisor.runtime.pipe import LineReader, LineWriter, PipeClosed
from supervisor.storage.users import ConsoleUser

__all__ = ["PipeAccess"]


class PipeAccess:
    def __init__(self, reader: LineReader, writer: LineWriter, *, snapshot_every_s: float = 0.25,
                 max_requests: int = 64) -> None:  # fmt: skip
        self._reader = reader
        self._writer = writer
        self._feeds: set[_Feed] = set()
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
                for feed in list(self._feeds):
                    feed.offer(key or None, text)
            elif kind == "R":
                answer = json.loads(rest)
                waiting = self._waiting.pop(answer.get("req"), None)
                if waiting is not None:
                    waiting.set(answer)
            else:
                raise PipeClosed(f"a line of unknown kind {kind!r} from the floor")

    def follow(self, name: str, capacity: int) -> _Feed:
        feed = _Feed(name, capacity, self._feeds)
        self._feeds.add(feed)
        return feed

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


class _Feed:
    """One console's events: telemetry latest-wins by key, the rest queued up to `capacity`."""

    def __init__(self, name: str, capacity: int, feeds: set[_Feed]) -> None:
        self.name = name
        self.capacity = capacity
        self._feeds = feeds
        self._queue: deque[str] = deque()
        self._latest: OrderedDict[str, str] = OrderedDict()
        self._wake = trio.Event()
        self._lagged = False

    def offer(self, key: str | None, text: str) -> None:
        if key is not None:
            self._latest.pop(key, None)
            self._latest[key] = text
        elif len(self._queue) >= self.capacity:
            self._lagged = True
            self._feeds.discard(self)
        else:
            self._queue.append(text)
        self._wake.set()

    async def receive(self) -> str:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._latest:
                return self._latest.popitem(last=False)[1]
            if self._lagged:
                raise SubscriberLagged(f"console {self.name} fell behind by {self.capacity} events")
            if self not in self._feeds:
                raise trio.EndOfChannel
            self._wake = trio.Event()
            await self._wake.wait()

    def close(self) -> None:
        self._feeds.discard(self)
        self._wake.set()
