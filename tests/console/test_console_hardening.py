"""The console server under the misuse issue 19 found, over real loopback sockets: half-open and
silent connections, oversized frames, browsers and rebound names, too many sessions, guessed and
revoked tokens, terminal escapes in what a console sends."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from sqlalchemy import select
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from simulator.in_process_floor import running_floor
from supervisor.console.admission import Admission, Limits
from supervisor.console.in_process import InProcessAccess
from supervisor.console.server import ConsoleServer
from supervisor.storage import schema as t
from supervisor.storage.database import Database
from supervisor.storage.users import revoke_user
from tests.support.console_client import command, hello, receive, user
from tests.support.waiting import until

Console = tuple[ConsoleServer, Database, int]


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start a console server with the given settings on a running floor: `await console(...)`."""
    async with running_floor(tmp_path) as (floor, db, _physics), trio.open_nursery() as nursery:

        async def start(**settings: Any) -> Console:
            server = ConsoleServer(InProcessAccess(floor, db), port=0, **settings)
            port = await nursery.start(server.run)
            return server, db, port

        yield start
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def client(url: str, **kwargs: Any) -> AsyncIterator[WebSocketConnection]:
    """A console connection whose socket is closed however it ends (trio-websocket 0.12's client
    leaves it open when the server closed first, as this server does on every refusal)."""
    async with open_websocket_url(url, **kwargs) as ws:
        try:
            yield ws
        finally:
            await ws._stream.aclose()


async def _closed_by_server(stream: trio.SocketStream, timeout: float = 10.0) -> bool:
    """Reads until the server closes the connection (True), or the timeout (False)."""
    with trio.move_on_after(timeout):
        try:
            while await stream.receive_some(65536):
                pass
        except trio.BrokenResourceError:
            pass
        return True
    return False


async def test_connections_that_never_finish_their_handshake_cannot_keep_a_console_out(console) -> None:  # type: ignore[no-untyped-def]
    server, db, port = await console(limits=Limits(max_pending=8), handshake_timeout_s=60)
    held = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(40)]
    await until(lambda: server.admission.pending == 8)  # never more than the cap at once
    token = await user(db, "sup", "supervisor")
    async with client(f"ws://127.0.0.1:{port}") as ws:
        assert (await hello(ws, token))["user"] == "sup"
    assert server.admission.pending <= 8
    for stream in held:
        await stream.aclose()


async def test_a_silent_connection_is_closed_at_the_handshake_deadline(console) -> None:  # type: ignore[no-untyped-def]
    _, _, port = await console(handshake_timeout_s=0.5)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
    assert await _closed_by_server(stream, timeout=10)
    await stream.aclose()


async def test_a_connection_the_client_closed_mid_handshake_is_let_go_at_once(console) -> None:  # type: ignore[no-untyped-def]
    server, _, port = await console(handshake_timeout_s=60)
    streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(5)]
    await until(lambda: server.admission.pending == 5)
    for stream in streams:
        await stream.send_all(b"GET / HTTP/1.1\r\n")
        await stream.aclose()
    await until(lambda: server.admission.pending == 0, timeout_s=10)  # not the 60 s deadline


async def test_a_frame_over_the_protocols_limit_closes_the_connection_unbuffered(console) -> None:  # type: ignore[no-untyped-def]
    _, db, port = await console()
    token = await user(db, "chk", "checker")
    async with client(f"ws://127.0.0.1:{port}") as ws:
        await hello(ws, token)

        async def send_too_much() -> None:  # (the close may come while it is still sending)
            await ws.send_message("x" * (1 << 20))
            await receive(ws, "never sent")

        with pytest.raises(ConnectionClosed) as closed, trio.fail_after(10):
            await send_too_much()
        assert closed.value.reason.code == 1009  # MESSAGE_TOO_BIG: the server read at most 64 KiB


async def _handshake(port: int, host: bytes, *headers: bytes) -> bytes:
    """A handshake written by hand (trio-websocket's client leaks its socket when refused): the
    server's status line and headers."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    try:
        await stream.send_all(
            b"GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            % host
            + b"".join(h + b"\r\n" for h in headers)
            + b"\r\n"
        )
        with trio.fail_after(10):
            return bytes(await stream.receive_some(4096))
    finally:
        await stream.aclose()


@pytest.mark.parametrize("origin", [b"http://evil.example", b"null"])
async def test_a_browser_page_cannot_open_the_console(console, origin: bytes) -> None:  # type: ignore[no-untyped-def]
    _, _, port = await console()
    head = await _handshake(port, b"127.0.0.1:%d" % port, b"Origin: " + origin)
    assert head.startswith(b"HTTP/1.1 403")
    assert (await _handshake(port, b"127.0.0.1:%d" % port)).startswith(b"HTTP/1.1 101")


async def test_an_allowed_origin_is_let_in(console) -> None:  # type: ignore[no-untyped-def]
    _, _, port = await console(allowed_origins=frozenset({"https://console.plant.example"}))
    head = await _handshake(port, b"localhost:%d" % port, b"Origin: https://console.plant.example")
    assert head.startswith(b"HTTP/1.1 101")


async def test_a_request_for_another_host_name_is_refused_by_a_loopback_console(console) -> None:  # type: ignore[no-untyped-def]
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends its own name."""
    _, _, port = await console()
    assert (await _handshake(port, b"evil.example:%d" % port)).startswith(b"HTTP/1.1 403")
    assert (await _handshake(port, b"[::1]:%d" % port)).startswith(b"HTTP/1.1 101")


async def test_a_users_sessions_past_the_cap_make_way_oldest_idle_first(console) -> None:  # type: ignore[no-untyped-def]
    server, db, port = await console(limits=Limits(max_sessions_per_user=2))
    token = await user(db, "viewer1", "viewer")
    url = f"ws://127.0.0.1:{port}"
    async with client(url) as first, client(url) as second:
        await hello(first, token)
        await hello(second, token)
        await command(second, 1, "snapshot")  # the second is not idle; the first is
        async with client(url) as third:
            await hello(third, token)
            bye = await receive(first, "bye")
            assert bye["code"] == "console.replaced"
            assert (await command(second, 2, "snapshot"))["ok"] is True
            assert len(server.admission.users_sessions("viewer1")) == 2


async def test_guessing_tokens_from_one_address_is_throttled(console) -> None:  # type: ignore[no-untyped-def]
    _, db, port = await console()
    good = await user(db, "sup", "supervisor")
    url = f"ws://127.0.0.1:{port}"
    for guess in range(5):
        async with client(url) as ws:
            await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": f"guess{guess}"}))
            assert (await receive(ws, "error"))["code"] == "auth.invalid_token"
    async with client(url) as ws:  # even the right token waits out the window now
        await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": good}))
        assert (await receive(ws, "error"))["code"] == "auth.throttled"


async def _revoke(db: Database, name: str) -> None:
    def revoke() -> None:
        with db.transaction() as conn:
            revoke_user(conn, name)

    await trio.to_thread.run_sync(revoke)


async def _audited(db: Database) -> list[tuple[str, str]]:
    def read() -> list[tuple[str, str]]:
        with db.reading() as conn:
            rows = conn.execute(select(t.console_audit.c.command, t.console_audit.c.result))
            return [(row[0], row[1]) for row in rows]

    return await trio.to_thread.run_sync(read)


async def test_a_revoked_users_open_session_is_closed_and_its_command_not_obeyed(console) -> None:  # type: ignore[no-untyped-def]
    _, db, port = await console(recheck_s=3600)  # the command itself must find it out
    token = await user(db, "sup", "supervisor")
    async with client(f"ws://127.0.0.1:{port}") as ws:
        await hello(ws, token)
        await _revoke(db, "sup")
        await ws.send_message(json.dumps({"type": "command", "id": 1, "command": "pause",
                                          "args": {"station": "S1"}}))  # fmt: skip
        assert (await receive(ws, "bye"))["code"] == "auth.revoked"

    assert ("pause", "ok") not in await _audited(db)


async def test_an_idle_revoked_session_is_closed_by_the_recheck(console) -> None:  # type: ignore[no-untyped-def]
    _, db, port = await console(recheck_s=0.2)
    token = await user(db, "sup", "supervisor")
    async with client(f"ws://127.0.0.1:{port}") as ws:
        await hello(ws, token)
        await _revoke(db, "sup")
        assert (await receive(ws, "bye"))["code"] == "auth.revoked"


@pytest.mark.parametrize("code", ["\x1b]0;pwned\x07HY00120000123", "HY0012\x1b[2J0000123"])
async def test_terminal_escapes_in_a_check_are_refused_and_never_broadcast(console, code: str) -> None:  # type: ignore[no-untyped-def]
    _, db, port = await console()
    token = await user(db, "chk", "checker")
    async with client(f"ws://127.0.0.1:{port}") as ws:
        await hello(ws, token)
        reply = await command(ws, 1, "check", cylinder=code, phase="pre", result="fail",
                              items={"appearance": "fail"})  # fmt: skip
        assert (reply["ok"], reply["code"]) == (False, "console.bad_text")


async def test_an_unknown_command_is_refused_and_audited(console) -> None:  # type: ignore[no-untyped-def]
    _, db, port = await console()
    token = await user(db, "chk", "checker")
    async with client(f"ws://127.0.0.1:{port}") as ws:
        await hello(ws, token)
        reply = await command(ws, 1, "format_disk\x1b[2J")
        assert reply["code"] == "console.unknown_command"

    with trio.fail_after(10):  # (the audit row is written by the floor's record writer)
        while ("format_disk\\x1b[2J", "refused") not in await _audited(db):  # noqa: ASYNC110
            await trio.sleep(0.05)


def test_admission_caps_each_address_and_the_total_and_forgets_what_is_released() -> None:
    now = [0.0]
    admission = Admission(Limits(max_per_address=2, capacity=3, max_pending=10), clock=lambda: now[0])
    a1, a2 = (admission.admit("10.0.0.1", trio.CancelScope()) for _ in range(2))
    assert a1 is not None
    assert a2 is not None
    assert admission.admit("10.0.0.1", trio.CancelScope()) is None  # that address is full
    b1 = admission.admit("10.0.0.2", trio.CancelScope())
    assert b1 is not None
    assert admission.admit("10.0.0.3", trio.CancelScope()) is None  # the whole server is
    admission.release(a1)
    assert admission.admit("10.0.0.3", trio.CancelScope()) is not None
    assert admission.admit("10.0.0.1", trio.CancelScope()) is None  # (the total again)
