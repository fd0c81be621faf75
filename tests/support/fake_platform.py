"""Something answering as the floor's platform on a real loopback socket: one request head read,
then whatever reply a test writes (the floor's reading of replies: platform_client/api.py)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio

from platform_client.api import PlatformApi, Refused, Unavailable, open_client
from platform_client.settings import SyncSettings
from platform_client.signing import HEADER_NONCE, HEADER_REPLY_SIGNATURE, reply_signature
from supervisor.config import PlatformConfig

__all__ = ["KEY", "UNIT", "Reply", "against", "signed"]

UNIT = "HY0012"
KEY = "k" * 32
_STATUS = re.compile(rb"HTTP/1\.1 (\d{3})[ \r]")

Reply = Callable[[trio.SocketStream, bytes], Awaitable[None]]  # (stream, the request's head)


def signed(reply: bytes, request_head: bytes, key: str = KEY) -> bytes:
    """`reply` with the platform's signature for the request whose head is `request_head`, as the
    platform would sign it (bytes that are not an HTTP reply are left as they are)."""
    head, sep, body = reply.partition(b"\r\n\r\n")
    status = _STATUS.match(head)
    if not sep or status is None:
        return reply
    request_line, _, rest = request_head.partition(b"\r\n")
    method, target = request_line.split(b" ")[:2]
    nonce = ""
    for line in rest.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == HEADER_NONCE.lower():
            nonce = value.strip()
    mac = reply_signature(key, int(status[1]), method.decode(), target.decode(), nonce, body)
    return head + f"\r\n{HEADER_REPLY_SIGNATURE}: {mac}".encode() + sep + body


async def against(reply: Reply, call: Callable[[PlatformApi], Any], *, deadline_s: float = 60.0,
                  timeout_s: float = 5.0) -> Any:  # fmt: skip
    """What `call` makes of `reply`: its result, or the `Unavailable` or `Refused` it raised."""

    async def serve(stream: trio.SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head and (chunk := await stream.receive_some(65536)):
            head += chunk
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await reply(stream, head.partition(b"\r\n\r\n")[0])  # (broken: the client gave up on it)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        settings = SyncSettings(PlatformConfig(f"http://127.0.0.1:{port}"), UNIT, KEY, timeout_s=timeout_s)
        async with open_client(settings, False) as client:
            try:
                result = await call(PlatformApi(client, deadline_s=deadline_s))
            except (Unavailable, Refused) as exc:  # (anything else fails the test, as itself)
                result = exc
        nursery.cancel_scope.cancel()
    return result
