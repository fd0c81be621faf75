"""What the floor will take from something answering as its platform (issue 19): a reply too big to
be the platform's is not read into memory, a reply that drips never holds an upload beyond one
deadline, a registry cursor beyond the latest change is not believed, and plain HTTP goes only to a
platform on the floor's own machine."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio

from domain.setting import FieldProblem
from platform_client.api import MAX_REPLY_BYTES, PlatformApi, Unavailable, open_client
from platform_client.settings import SyncSettings
from supervisor.config import PlatformConfig
from supervisor.storage.outbox import OutboxItem

ITEMS = [OutboxItem("F-1", "fill", {"n": 1}, "2026-11-24T08:00:00+00:00", 0, None)]


async def _against(reply: Callable[[trio.SocketStream], Awaitable[None]], call: Callable[[PlatformApi], Any],
                   deadline_s: float = 60.0) -> Any:  # fmt: skip
    """`call` against a loopback server that reads one request head, then runs `reply`."""

    async def serve(stream: trio.SocketStream) -> None:
        data = b""
        while b"\r\n\r\n" not in data and (chunk := await stream.receive_some(65536)):
            data += chunk
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await reply(stream)  # (broken: the client gave up on it, the point)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        settings = SyncSettings(PlatformConfig(f"http://127.0.0.1:{port}"), "HY0012", "k" * 32, timeout_s=5)
        async with open_client(settings, False) as client:
            try:
                result = await call(PlatformApi(client, deadline_s=deadline_s))
            except Unavailable as exc:
                result = exc
        nursery.cancel_scope.cancel()
    return result


def _head(extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n".encode()


@pytest.mark.parametrize("declared", [True, False])
async def test_a_reply_too_big_to_be_the_platforms_is_not_read_into_memory(declared: bool) -> None:
    sent = [0]
    size = 20 * MAX_REPLY_BYTES

    async def huge(stream: trio.SocketStream) -> None:
        await stream.send_all(_head(f"Content-Length: {size}\r\n" if declared else ""))
        chunk = b" " * 65536
        while sent[0] < size:
            await stream.send_all(chunk)
            sent[0] += len(chunk)

    result = await _against(huge, lambda api: api.upload(ITEMS))
    assert isinstance(result, Unavailable)
    assert result.status == "bad_reply"
    assert "over" in result.detail
    assert sent[0] < size // 4  # the floor stopped reading long before the end


async def test_a_reply_that_drips_ends_at_the_requests_deadline(autojump_clock: trio.abc.Clock) -> None:
    async def drip(stream: trio.SocketStream) -> None:
        await stream.send_all(_head("Content-Length: 100000\r\n"))
        for _ in range(100_000):
            await stream.send_all(b" ")
            await trio.sleep(1.0)  # each read well within the 5 s read timeout

    started = trio.current_time()
    result = await _against(drip, lambda api: api.upload(ITEMS), deadline_s=30.0)
    assert isinstance(result, Unavailable)
    assert result.status == "timeout"
    assert trio.current_time() - started < 31.0


async def test_a_registry_cursor_beyond_the_latest_change_is_not_believed() -> None:
    body = json.dumps({"changes": [], "cursor": 99, "more": False, "latest": 10}).encode()

    async def beyond(stream: trio.SocketStream) -> None:
        await stream.send_all(_head(f"Content-Length: {len(body)}\r\n") + body)

    result = await _against(beyond, lambda api: api.changes(5, 100))
    assert isinstance(result, Unavailable)
    assert result.status == "bad_reply"


@pytest.mark.parametrize("url", ["http://platform.city.example", "http://10.1.2.3:8080/api"])
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(FieldProblem, match="https"):
        PlatformConfig(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:8080"])
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    assert PlatformConfig(url).url == url
