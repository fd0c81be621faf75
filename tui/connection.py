"""The console's link to the floor: one WebSocket session at a time, reconnected for ever.

Runs on trio (in Textual's loop by guest mode, `tui.guest`). It feeds every server message to the
`ConsoleModel` and keeps `model.link` true to life: a console that shows a live-looking floor
while it is cut off would be worse than none, so the screens show "disconnected" as soon as the
session ends and the floor's data is marked stale until a fresh snapshot arrives.

Commands come from the screens (asyncio) through `request()`, which hands them to trio with
`TrioToken.run_sync_soon` (safe from any context) and returns an asyncio future for the reply.
A command sent while disconnected is not queued for later: an operator who pressed "pause" a
minute ago does not want it to happen when the link comes back, so it is answered "offline" now.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
from collections.abc import Mapping
from typing import Any

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from domain.backoff import Backoff
from domain.catalogue import render
from supervisor.console.protocol import (
    Bye,
    Command,
    Error,
    Hello,
    ProtocolError,
    Reply,
    Welcome,
    decode_server,
    encode,
)
from tui.model import ConsoleModel

__all__ = ["ConsoleConnection", "local_reply"]

_Ended = tuple[str, Mapping[str, Any], str]  # why a session ended: a code, its parameters, the detail


def _closed(exc: ConnectionClosed) -> _Ended:
    reason = exc.reason
    detail = f"closed ({reason.code} {reason.reason or ''})".strip() if reason else "closed"
    return "link.why.closed", {}, detail


def local_reply(command_id: int, code: str) -> Reply:
    """An answer the console gives itself (offline, busy, no reply): a code as the floor's are."""
    return Reply(command_id, False, code, message=render(code, None, "en"))


class ConsoleConnection:
    def __init__(
        self,
        url: str,
        token: str,
        model: ConsoleModel,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reply_timeout_s: float = 10.0,
        refresh_s: float = 10.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.url = url
        self._token = token
        self.model = model
        self.ssl_context = ssl_context
        self.reply_timeout_s = reply_timeout_s
        self.refresh_s = refresh_s  # a fresh snapshot now and then sets right anything missed
        self.max_backoff_s = max_backoff_s
        self._rng = random.Random()  # for the backoff's jitter: consoles cut off together spread out
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._deadlines: dict[int, float] = {}
        self._outgoing_send, self._outgoing = trio.open_memory_channel[Command](64)
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self.sessions = 0

    # ------------------------------------------------------------------ from the screens (asyncio)
    def request(self, command: str, args: Mapping[str, Any]) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        if self._trio_token is None or self.model.link != "connected":
            future.set_result(local_reply(0, "console.offline"))
            return future
        command_id = next(self._ids)
        self._pending[command_id] = future
        message = Command(command_id, command, args)
        try:
            self._trio_token.run_sync_soon(self._enqueue, command_id, message)
        except trio.RunFinishedError:  # the link's trio run is over (the console is closing)
            self._answer(command_id, local_reply(command_id, "console.offline"))
        return future

    def _enqueue(self, command_id: int, message: Command) -> None:
        try:
            self._outgoing_send.send_nowait(message)
        except trio.WouldBlock:
            self._answer(command_id, local_reply(command_id, "console.busy"))

    def _answer(self, command_id: int, reply: Reply) -> None:
        self._deadlines.pop(command_id, None)
        future = self._pending.pop(command_id, None)
        if future is not None and not future.done():
            future.set_result(reply)

    def _fail_pending(self) -> None:
        for command_id in list(self._pending):
            self._answer(command_id, local_reply(command_id, "console.offline"))

    # ------------------------------------------------------------------ the session loop (trio)
    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._trio_token = trio.lowlevel.current_trio_token()
        task_status.started()
        failures = 0
        while True:
            why, params, detail = await self._session()
            self._fail_pending()
            if self.model.link != "refused":
                self.model.link = "disconnected"
            self.model.link_why, self.model.link_why_params, self.model.link_detail = why, params, detail
            self.model.version += 1
            failures = 0 if why == "" else failures + 1
            # A refused token will stay refused: retry slowly (a revoked user sees why).
            cap = 30.0 if self.model.link == "refused" else self.max_backoff_s
            await trio.sleep(Backoff(initial_s=min(0.25, cap), max_s=cap).delay(failures + 1, self._rng))

    async def _session(self) -> _Ended:
        """One session, to its end; returns why it ended: a code for the words, its parameters, and
        the technical detail (shown apart: it is in whatever language the socket or server used)."""
        ws: WebSocketConnection | None = None
        try:
            async with open_websocket_url(self.url, ssl_context=self.ssl_context, connect_timeout=5,
                                          disconnect_timeout=1, max_message_size=4 << 20) as ws:  # fmt: skip
                await ws.send_message(encode(Hello(self._token)))
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._send_commands, ws)
                    nursery.start_soon(self._refresh, ws)
                    nursery.start_soon(self._expire)
                    ended = await self._receive(ws)
                    nursery.cancel_scope.cancel()
                return ended
        except ConnectionClosed as exc:
            return _closed(exc)
        except HandshakeError as exc:
            cause = exc.__cause__ or exc.__context__  # (a refused connection comes wrapped)
            detail = f"{type(cause).__name__}: {cause}" if cause is not None else f"handshake failed: {exc!r}"
            return "link.why.unreachable", {}, detail
        except trio.TooSlowError as exc:
            return "link.why.timeout", {}, f"{type(exc).__name__}: {exc}"
        except (OSError, trio.BrokenResourceError) as exc:
            return "link.why.unreachable", {}, f"{type(exc).__name__}: {exc}"
        finally:
            if ws is not None:
                # trio-websocket leaves its TCP stream open when the server closed first.
                with contextlib.suppress(Exception):
                    await ws._stream.aclose()

    async def _receive(self, ws: WebSocketConnection) -> _Ended:
        while True:
            try:
                text = await ws.get_message()
            except ConnectionClosed as exc:
                return _closed(exc)
            try:
                message = decode_server(text)
            except ProtocolError:
                continue  # not ours to crash on (a newer floor's event): the next snapshot sets things right
            match message:
                case Welcome():
                    self.sessions += 1
                    self.model.link, self.model.link_why, self.model.link_detail = "connected", "", ""
                case Error(code) if code.startswith("auth."):
                    # All at once: a screen drawn in between would show "refused" without why.
                    self.model.link, self.model.link_why, self.model.link_detail = "refused", code, ""
                    self.model.version += 1
                    return code, {}, ""
                case Bye(reason, code, params):
                    self.model.version += 1
                    # The code is worded in the console's language; the server's own sentence
                    # (English, for its log) is only the detail, or all there is from an older floor.
                    return (code, params, "") if code else ("link.why.bye", {}, reason)
                case Reply(int() as command_id):
                    self._answer(command_id, message)
            self.model.receive(message)

    async def _send_commands(self, ws: WebSocketConnection) -> None:
        async for message in self._outgoing:
            if not isinstance(message.id, int) or message.id not in self._pending:
                continue  # answered "offline" when an earlier session ended: never sent late
            # The reply may never come (the floor went away): the screen is not left waiting.
            self._deadlines[message.id] = trio.current_time() + self.reply_timeout_s
            await ws.send_message(encode(message))

    async def _expire(self) -> None:
        while True:
            await trio.sleep(0.5)
            now = trio.current_time()
            for command_id, deadline in list(self._deadlines.items()):
                if now >= deadline:
                    del self._deadlines[command_id]
                    self._answer(command_id, local_reply(command_id, "console.no_reply"))

    async def _refresh(self, ws: WebSocketConnection) -> None:
        ids = itertools.count(-1, -1)  # negative ids: the console's own requests, not a person's
        while True:
            await trio.sleep(self.refresh_s)
            await ws.send_message(encode(Command(next(ids), "snapshot")))
