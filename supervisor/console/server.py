"""The console server (trio-websocket): loopback by default, a token first, then a snapshot and the
floor's events; role-checked commands answered by id (docs/console-protocol.md).

Each connection is one session, and a session's errors stay in it (an exception escaping a
trio-websocket handler takes the whole server down). A slow console gets telemetry coalesced
(latest weight per station); one that falls `lag_limit` events behind, or cannot take a message
within `send_timeout_s`, is told why and dropped. Nothing a console does reaches the control path
except through the stations' mailboxes, which never block a coordinator.
"""

from __future__ import annotations

import functools
import logging
import ssl
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from domain.catalogue import render
from domain.events import AlarmRaised, CheckRecorded, FillAborted, FillCompleted, FloorEvent, InterlockRefused
from supervisor.console.commands import execute
from supervisor.console.protocol import (
    AlarmWords,
    Bye,
    Command,
    Error,
    Hello,
    ProtocolError,
    Reply,
    ServerMessage,
    Snapshot,
    Welcome,
    decode_client,
    encode,
)
from supervisor.console.protocol import Event as EventMessage
from supervisor.console.snapshot import FloorFigures, SyncFigures, snapshot, wall_clock
from supervisor.floor import Floor
from supervisor.runtime.bus import Event, SubscriberLagged, Subscription
from supervisor.storage.database import Database
from supervisor.storage.users import ConsoleUser, find_user

__all__ = ["ConsoleServer"]

log = logging.getLogger(__name__)

_FOLLOWED = (FillCompleted, FillAborted, InterlockRefused, CheckRecorded)
_ENCODED_KEPT = 512  # events whose encoding is kept for the consoles still to send them


class ConsoleServer:
    def __init__(
        self,
        floor: Floor,
        db: Database,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        ssl_context: ssl.SSLContext | None = None,
        lag_limit: int = 2000,
        send_timeout_s: float = 10.0,
        hello_timeout_s: float = 10.0,
        sync: SyncFigures | None = None,
    ) -> None:
        self.floor = floor
        self.sync = sync  # the platform sync's figures for the shift screen, when there is one
        self._db = db
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self.lag_limit = lag_limit
        self.send_timeout_s = send_timeout_s
        self.hello_timeout_s = hello_timeout_s
        # The floor's alarm board (its alarm desk keeps it, with or without a console): the
        # console shows it and hands it acknowledge and shelve orders.
        self.alarms = floor.alarms.board
        self.figures = FloorFigures(started_at=0.0)  # (the shift starts when the server runs)
        self.port: int | None = None
        self.sessions = 0
        # Every console gets the same events: each is encoded once, not once per console (16
        # consoles cost the floor's loop one encoding, not sixteen). Keyed by identity, bounded.
        self._encoded: dict[int, tuple[Event, str]] = {}

    async def run(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        self.figures.started_at = trio.current_time()
        async with trio.open_nursery() as nursery:
            await nursery.start(self._follow)
            serve = functools.partial(serve_websocket, self._handle, self._host, self._port, self._ssl,
                                      handler_nursery=nursery)  # fmt: skip
            server = await nursery.start(serve)
            self.port = server.port
            task_status.started(server.port)

    async def _follow(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The shift figures, kept whether or not a console is attached (the alarms are on the
        floor's board, kept by its alarm desk)."""
        sub = self.floor.bus.subscribe("console-state", coalesce=False, capacity=100_000,
                                       accept=lambda e: isinstance(e.payload, _FOLLOWED))  # fmt: skip
        task_status.started()
        while True:
            event = await sub.receive()
            self.figures.on_event(event.payload, event.at)

    async def _handle(self, request: WebSocketRequest) -> None:
        try:
            ws = await request.accept()
            self.sessions += 1
            try:
                await _Session(self, ws).run()
            finally:
                self.sessions -= 1
        except ConnectionClosed:
            pass
        except Exception:  # contained: one console's trouble never takes down the others
            log.exception("console session failed")

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

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.floor, self.alarms, self.figures, trio.current_time(), self.sync)

    async def authenticate(self, token: str) -> ConsoleUser | None:
        def lookup() -> ConsoleUser | None:
            with self._db.reading() as conn:
                return find_user(conn, token)

        return await trio.to_thread.run_sync(lookup)


class _Session:
    def __init__(self, server: ConsoleServer, ws: WebSocketConnection) -> None:
        self.server = server
        self.ws = ws

    async def send(self, message: ServerMessage | str) -> None:
        """A message (or one already encoded); a console that cannot take it in time is dropped."""
        text = message if isinstance(message, str) else encode(message)
        with trio.move_on_after(self.server.send_timeout_s) as scope:
            await self.ws.send_message(text)
        if scope.cancelled_caught:
            raise _Drop("console.too_slow")

    async def run(self) -> None:
        user = await self._hello()
        if user is None:
            return
        sub = self.server.floor.bus.subscribe(f"console:{user.name}", capacity=self.server.lag_limit)
        try:
            await self.send(Welcome(user.name, user.role, user.station))
            await self.send(Snapshot(self.server.snapshot()))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._events, sub, nursery.cancel_scope)
                await self._commands(user)
                nursery.cancel_scope.cancel()
        except _Drop as exc:
            await self._bye(exc.code)
        finally:
            sub.close()

    async def _hello(self) -> ConsoleUser | None:
        with trio.move_on_after(self.server.hello_timeout_s):
            text = await self.ws.get_message()
            try:
                hello = decode_client(text)
            except ProtocolError as exc:
                await self._refuse(exc.code, exc.message)
                return None
            if not isinstance(hello, Hello):
                await self._refuse("auth.required", "send hello with your token first")
                return None
            user = await self.server.authenticate(hello.token)
            if user is None:
                await self._refuse("auth.invalid_token", "unknown or revoked token")
            return user
        await self._refuse("auth.timeout", "no hello in time")
        return None

    async def _refuse(self, code: str, message: str) -> None:
        """No session: the console is told why, and the connection closed (1008, the code as reason)."""
        await self._error(code, message)
        await self.ws.aclose(code=1008, reason=code)

    async def _events(self, sub: Subscription, scope: trio.CancelScope) -> None:
        try:
            async for event in sub:
                await self.send(self.server.encoded(event))
        except SubscriberLagged:
            await self._bye("console.lagged", limit=self.server.lag_limit)
            scope.cancel()
        except _Drop as exc:
            await self._bye(exc.code)
            scope.cancel()
        except ConnectionClosed:
            scope.cancel()

    async def _commands(self, user: ConsoleUser) -> None:
        while True:
            try:
                text = await self.ws.get_message()
            except ConnectionClosed:
                return  # the console went away (closed, or its network did): nothing wrong here
            try:
                message = decode_client(text)
            except ProtocolError as exc:
                await self._error(exc.code, exc.message)
                continue
            if isinstance(message, Hello):
                await self._error("protocol.type", "already authenticated")
                continue
            await self._command(user, message)

    async def _command(self, user: ConsoleUser, cmd: Command) -> None:
        if cmd.name == "snapshot":
            await self.send(Reply(cmd.id, True, snapshot=self.server.snapshot()))
            return
        result = await execute(self.server.floor, self.server.alarms, user, cmd.name, cmd.args)
        await self.send(Reply(cmd.id, result.ok, result.code, result.params, result.message))

    async def _error(self, code: str, message: str) -> None:
        await self.send(Error(code, message))

    async def _bye(self, code: str, **params: object) -> None:
        with trio.move_on_after(1.0):
            try:
                await self.ws.send_message(encode(Bye(render(code, params, "en"), code, params)))
                await self.ws.aclose(code=1008, reason="dropped")
            except ConnectionClosed:
                pass


class _Drop(Exception):
    """The console is dropped; the code (of `domain.catalogue`) says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
