"""What a caller who cannot sign costs the platform: it is answered before its body is read,
bodies not yet verified are bounded, a JSON endpoint takes JSON only, and an address that keeps
failing is logged and throttled."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from platform_client.auth import SigningAuth
from platform_client.signing import sign_request
from platform_server.guard import Guard
from tests.support.platform_env import UNIT, platform_env


async def _open_chunked_post(url: str, headers: dict[str, str]) -> trio.SocketStream:
    """A POST /v1/records whose chunked body has begun (1 MiB) and never ends."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    await stream.send_all(
        f"POST /v1/records HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{head}\r\n".encode()
    )
    # Answered and closed before the chunk was taken: the answer is still there to read. A server
    # that answered but neither reads nor closes leaves the send waiting: bounded, the answer is read.
    with contextlib.suppress(trio.BrokenResourceError), trio.move_on_after(5):
        await stream.send_all(b"100000\r\n" + b" " * 0x100000 + b"\r\n")
    return stream


async def _until(pred: Callable[[], bool]) -> None:
    with trio.fail_after(10):
        while not pred():  # noqa: ASYNC110 - counters of the platform's guard, nothing to wait on
            await trio.sleep(0.01)


async def _status(stream: trio.SocketStream) -> bytes:
    """The status line of the answer, which must come while the body is still unsent."""
    data = b""
    with trio.fail_after(10):
        while b"\r\n" not in data:
            chunk = await stream.receive_some(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n")[0]


def _unsigned(party: str) -> dict[str, str]:
    """Well-formed, fresh signing headers with a made-up signature."""
    return {
        "X-Fillfloor-Party": party,
        "X-Fillfloor-Timestamp": str(int(time.time())),
        "X-Fillfloor-Nonce": "n" * 32,
        "X-Fillfloor-Signature": "0" * 64,
    }


async def test_a_caller_without_headers_or_party_is_answered_before_its_body_is_read(
    sqlite_url: str,
) -> None:
    async with platform_env(sqlite_url) as env:
        for headers in ({}, _unsigned("NOBODY")):
            stream = await _open_chunked_post(env.url, headers)
            async with stream:
                assert await _status(stream) == b"HTTP/1.1 401 "


async def test_unverified_bodies_are_bounded_and_the_excess_answered_busy(sqlite_url: str) -> None:
    guard = Guard(max_unverified=2)
    async with platform_env(sqlite_url, guard=guard) as env:
        held = [await _open_chunked_post(env.url, _unsigned(UNIT)) for _ in range(2)]
        await _until(lambda: guard.unverified == 2)
        third = await _open_chunked_post(env.url, _unsigned(UNIT))
        async with third:
            assert await _status(third) == b"HTTP/1.1 503 "
        for stream in held:
            await stream.aclose()
        # The held reads end with their connections: the platform takes requests again.
        await _until(lambda: guard.unverified == 0)
        async with env.client(UNIT) as client:
            assert (await client.get("/v1/me")).status_code == 200


async def test_a_json_endpoint_refuses_another_content_type(sqlite_url: str) -> None:
    async with platform_env(sqlite_url) as env:
        body = b'{"records": []}'
        headers = sign_request(UNIT, env.keys[UNIT], "POST", "/v1/records", body, int(time.time()), "c" * 32)
        async with httpx.AsyncClient(base_url=env.url) as client:
            headers["Content-Type"] = "text/plain"
            r = await client.post("/v1/records", content=body, headers=headers)
    assert (r.status_code, r.json()["error"]) == (415, "request.bad_type")


async def test_an_address_that_keeps_failing_is_logged_and_throttled(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="platform_server.guard")
    async with platform_env(sqlite_url, guard=Guard(max_failures=3)) as env:
        async with env.client(UNIT, auth=SigningAuth(UNIT, "ffk_wrong")) as wrong:
            for _ in range(3):
                assert (await wrong.get("/v1/me")).status_code == 401
        async with env.client(UNIT) as client:
            r = await client.get("/v1/me")  # correctly signed, but from the same address
    assert (r.status_code, r.json()["error"]) == (429, "auth.throttled")
    assert int(r.headers["retry-after"]) >= 1
    refusals = [m for m in caplog.messages if "127.0.0.1" in m and "auth.bad_signature" in m]
    assert len(refusals) == 3
