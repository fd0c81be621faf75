"""The console server (trio-websocket): loopback by default, a token first, then a snapshot and the
floor's events; role-checked commands answered by id (docs/console-protocol.md).

Each connection is one session, and a session's errors stay in it (an exception escaping a
trio-websocket handler takes the whole server down). A slow console gets telemetry coalesced
(latest weight per station); one that falls `lag_limit` events behind, or cannot take a message
within `send_timeout_s`, is told why and dropped. Nothing a console does reaches the control path
except through the stations' mailboxes, which never block a coordinator.

Nothing outside may cost the floor its loop or its descriptors (docs/operations/en/security.md):
every connection is admitted (`admission`) before a byte of it is read, its handshake has
`handshake_timeout_s` and ends at the peer's EOF, a message is at most the protocol's 64 KiB, a
browser (an `Origin` header) or a request for another host (DNS rebinding of a loopback console) is
refused, failed logins are throttled per address, and a session's token is checked again on every
command and every `recheck_s`, so a revoked user's console is closed.
"""

from __future__ import annotations

import contextvars
import logging
import ssl

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, WebSocketServer

from domain.catalogue import render
from supervisor.console.access import EventFeed, FloorAccess
from supervisor.console.admission import Admission, Limits, LoginThrottle, Ticket
from supervisor.console.protocol import (
    MAX_MESSAGE_BYTES,
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
from supervisor.runtime.bus import SubscriberLagged
from supervisor.storage.users import ConsoleUser

__all__ = ["ConsoleServer"]

log = logging.getLogger(__name__)

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# The connection the running task serves: set by `_connection` before trio-websocket hands the same
# task its request (a per-task value, not shared state).
_TICKET: contextvars.ContextVar[Ticket] = contextvars.ContextVar("console_ticket")


class ConsoleServer:
    def __init__(
        self,
        access: FloorAccess,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        ssl_context: ssl.SSLContext | None = None,
        lag_limit: int = 2000,
        send_timeout_s: float = 10.0,
        hello_timeout_s: float = 5.0,
        handshake_timeout_s: float = 5.0,
        recheck_s: float = 10.0,
        limits: Limits | None = None,
        allowed_origins: frozenset[str] = frozenset(),
    ) -> None:
        self.access = access
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self.lag_limit = lag_limit
        self.send_timeout_s = send_timeout_s
        self.hello_timeout_s = hello_timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        self.recheck_s = recheck_s
        self.admission = Admission(limits or Limits())
        self.logins = LoginThrottle()
        self._allowed_origins = allowed_origins
        self.port: int | None = None
        self.sessions = 0

    async def run(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self._port, host=self._host)  # (a port in use: at once)
        try:
            await self._serve(listeners, task_status)
        finally:
            for listener in listeners:  # (serving closes them too; not if it never began)
                await trio.aclose_forcefully(listener)

    async def _serve(self, listeners: list[trio.SocketListener], task_status: trio.TaskStatus[int]) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.access.run)
            # trio-websocket does the handshake and the framing; the listening and the admission
            # are ours (it would read every connection it accepts, without limit).
            self._ws = WebSocketServer(self._handle, listeners, handler_nursery=nursery,
                                       max_message_size=MAX_MESSAGE_BYTES,
                                       connect_timeout=self.handshake_timeout_s,
                                       disconnect_timeout=1.0)  # fmt: skip
            self.port = listeners[0].socket.getsockname()[1]
            await nursery.start(trio.serve_listeners, self._connection, listeners)
            task_status.started(self.port)

    async def _connection(self, stream: trio.SocketStream) -> None:
        """One accepted connection: admitted or closed at once, then handshake, hello, session."""
        address = _peer(stream)
        with trio.CancelScope() as scope:
            ticket = self.admission.admit(address, scope)
            if ticket is None:
                await trio.aclose_forcefully(stream)
                return
            try:
                _TICKET.set(ticket)
                watched = _EndsAtEof(stream, ticket)
                inner: trio.abc.Stream = (
                    trio.SSLStream(watched, self._ssl, server_side=True) if self._ssl else watched
                )
                await self._ws._handle_connection(inner)  # (its handshake, our listener)
            finally:
                self.admission.release(ticket)
                await trio.aclose_forcefully(stream)

    async def _handle(self, request: WebSocketRequest) -> None:
        ticket = _TICKET.get()
        refusal = self._refusal(request)
        if refusal is not None:
            log.warning("console handshake from %s refused: %s", ticket.address, refusal)
            await request.reject(403, body=refusal.encode())
            return
        try:
            ws = await request.accept()
            self.sessions += 1
            try:
                await _Session(self, ws, ticket).run()
            finally:
                self.sessions -= 1
        except ConnectionClosed:
            pass
        except Exception:  # contained: one console's trouble never takes down the others
            log.exception("console session failed")

    def _refusal(self, request: WebSocketRequest) -> str | None:
        """Why a handshake is refused: a browser page's (it sends `Origin`; a console does not), or a
        request for a name that is not this loopback server's (a DNS-rebound page)."""
        origin = next((v.decode("latin-1") for k, v in request.headers if k.lower() == b"origin"), None)
        if origin is not None and origin not in self._allowed_origins:
            return f"origin {origin!r} not allowed"
        host = _request_host(request)
        if self._host in _LOOPBACK_HOSTS and _host_name(host) not in _LOOPBACK_HOSTS:
            return f"host {host!r} is not this loopback console"
        return None

    async def authenticate(self, token: str) -> ConsoleUser | None:
        return await self.access.authenticate(token)


class _Session:
    def __init__(self, server: ConsoleServer, ws: WebSocketConnection, ticket: Ticket) -> None:
        self.server = server
        self.ws = ws
        self.ticket = ticket
        self.token = ""

    async def send(self, message: ServerMessage | str) -> None:
        """A message (or one already encoded); a console that cannot take it in time is dropped."""
        text = message if isinstance(message, str) else encode(message)
        with trio.move_on_after(self.server.send_timeout_s) as scope:
            await self.ws.send_message(text)
        if scope.cancelled_caught:
            raise _Drop("console.too_slow")

    async def run(self) -> None:
        try:
            user = await self._hello()
            if user is None:
                return
            await self._serve(user)
        finally:
            code = self.ticket.dropped
            if code is not None:  # ended from outside: say why, briefly
                with trio.CancelScope(shield=True):
                    await self._bye(code)

    async def _serve(self, user: ConsoleUser) -> None:
        self.server.admission.authenticated(self.ticket, user.name)
        sub = self.server.access.follow(f"console:{user.name}", self.server.lag_limit)
        try:
            await self.send(Welcome(user.name, user.role, user.station))
            await self.send(Snapshot(await self.server.access.snapshot()))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._events, sub, nursery.cancel_scope)
                nursery.start_soon(self._recheck, user, nursery.cancel_scope)
                await self._commands(user)
                nursery.cancel_scope.cancel()
        except _Drop as exc:
            await self._bye(exc.code)
        finally:
            sub.close()

    async def _hello(self) -> ConsoleUser | None:
        address = self.ticket.address
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
            if self.server.logins.throttled(address):
                await self._refuse("auth.throttled", "too many failed logins; wait a minute")
                return None
            user = await self.server.authenticate(hello.token)
            if user is None:
                self.server.logins.failed(address)
                await self._refuse("auth.invalid_token", "unknown or revoked token")
                return None
            self.token = hello.token
            return user
        await self._refuse("auth.timeout", "no hello in time")
        return None

    async def _still_valid(self, user: ConsoleUser) -> bool:
        """The session's token still names its user (a revoke or rotate ends the session)."""
        now = await self.server.authenticate(self.token)
        return now is not None and now.name == user.name and now.role == user.role

    async def _recheck(self, user: ConsoleUser, scope: trio.CancelScope) -> None:
        while True:
            await trio.sleep(self.server.recheck_s)
            if not await self._still_valid(user):
                await self._bye("auth.revoked")
                scope.cancel()
                return

    async def _refuse(self, code: str, message: str) -> None:
        """No session: the console is told why, and the connection closed (1008, the code as reason)."""
        await self._error(code, message)
        await self.ws.aclose(code=1008, reason=code)

    async def _events(self, sub: EventFeed, scope: trio.CancelScope) -> None:
        try:
            while True:
                await self.send(await sub.receive())
        except trio.EndOfChannel:
            scope.cancel()
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
            self.server.admission.commanded(self.ticket)
            try:
                message = decode_client(text)
            except ProtocolError as exc:
                await self._error(exc.code, exc.message)
                continue
            if isinstance(message, Hello):
                await self._error("protocol.type", "already authenticated")
                continue
            if not await self._still_valid(user):
                await self._bye("auth.revoked")
                return
            await self._command(user, message)

    async def _command(self, user: ConsoleUser, cmd: Command) -> None:
        if cmd.name == "snapshot":
            await self.send(Reply(cmd.id, True, snapshot=await self.server.access.snapshot()))
            return
        result = await self.server.access.command(user, cmd.name, cmd.args)
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


class _EndsAtEof(trio.abc.Stream):
    """A connection that ends itself when its peer closes before it is a session (trio-websocket
    would wait out the handshake deadline with the socket in CLOSE_WAIT)."""

    def __init__(self, stream: trio.SocketStream, ticket: Ticket) -> None:
        self._stream = stream
        self._ticket = ticket

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self._stream.receive_some(max_bytes)
        if not data and self._ticket.user is None:
            self._ticket.drop("console.closed")
        return data

    async def aclose(self) -> None:
        await self._stream.aclose()


def _peer(stream: trio.SocketStream) -> str:
    try:
        return str(stream.socket.getpeername()[0])
    except OSError:  # (gone already)
        return "?"


def _request_host(request: WebSocketRequest) -> str:
    """The handshake's Host header. trio-websocket lists the other headers but not this one (wsproto
    keeps it apart), so it is read from the wsproto request it wraps; a test pins that."""
    return str(request._event.host)


def _host_name(host: str) -> str:
    """`localhost:8765` -> `localhost`, `[::1]:8765` -> `[::1]`."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class _Drop(Exception):
    """The console is dropped; the code (of `domain.catalogue`) says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
