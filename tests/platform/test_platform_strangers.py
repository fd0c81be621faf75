"""What a caller who cannot sign costs the platform: it is answered before its body is read,
bodies not yet verified are bounded, a JSON endpoint takes JSON only, and an address that keeps
failing is logged and throttled."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from platform_client.auth import SigningAuth
from platform_client.signing import sign_request
from platform_server.guard import Guard
from tests.support.platform_env import UNIT, platform_env
from tests.support.waiting import until


async def _open_post(url: str, headers: dict[str, str], *, chunked: bool = False) -> trio.SocketStream:
    """A POST /v1/records whose 4 MiB body (chunked: of no declared length) has begun with 1 MiB
    and goes no further."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {4 << 20}"
    await stream.send_all(
        f"POST /v1/records HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n{head}\r\n".encode()
    )
    piece = b" " * 0x100000
    # Answered and closed before the piece was taken: the answer is still there to read. A server
    # that answered but neither reads nor closes leaves the send waiting: bounded, the answer is read.
    with contextlib.suppress(trio.BrokenResourceError), trio.move_on_after(5):
        await stream.send_all(b"100000\r\n" + piece + b"\r\n" if chunked else piece)
    return stream


async def _reply(stream: trio.SocketStream) -> tuple[bytes, bytes, bytes]:
    """The whole answer: (status line, headers, body)."""
    data = b""
    with trio.fail_after(10):
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if sep and length is not None and len(body) >= int(length[1]):
                break
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
    status, _, headers = head.partition(b"\r\n")
    return status, headers, body


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
            stream = await _open_post(env.url, headers)
            async with stream:
                assert await _status(stream) == b"HTTP/1.1 401 "
        # A body of no declared length is answered from the headers too, whoever sends it.
        stream = await _open_post(env.url, _unsigned(UNIT), chunked=True)
        async with stream:
            assert await _status(stream) == b"HTTP/1.1 411 "


async def test_unverified_bodies_are_bounded_and_the_excess_answered_busy(sqlite_url: str) -> None:
    guard = Guard(max_unverified=2)
    async with platform_env(sqlite_url, guard=guard) as env:
        held = [await _open_post(env.url, _unsigned(UNIT)) for _ in range(2)]
        await until(lambda: guard.unverified == 2)
        third = await _open_post(env.url, _unsigned(UNIT))
        async with third:
            assert await _status(third) == b"HTTP/1.1 503 "
        for stream in held:
            await stream.aclose()
        # The held reads end with their connections: the platform takes requests again.
        await until(lambda: guard.unverified == 0)
        async with env.client(UNIT) as client:
            assert (await client.get("/v1/me")).status_code == 200


async def _raw_post(
    url: str, headers: dict[str, str], framing: str, body: bytes
) -> tuple[bytes, bytes, bytes]:
    """A POST /v1/records sent whole with these headers and this framing; the whole answer."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    async with await trio.open_tcp_stream(parts.hostname, parts.port) as stream:
        request = f"POST /v1/records HTTP/1.1\r\nHost: {parts.netloc}\r\n{framing}\r\n{head}\r\n"
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(request.encode() + body)
        return await _reply(stream)


JSON = "Content-Type: application/json\r\n"
BEFORE_THE_SIGNATURE = {
    # what the request does: (framing, body, the answer to a known and to an unknown party alike)
    "chunked body": (JSON + "Transfer-Encoding: chunked", b"2\r\n{}\r\n0\r\n\r\n", b"411"),
    "no length at all, bad signature": (JSON.rstrip(), b"", b"401"),
    "body over the limit": (JSON + f"Content-Length: {(16 << 20) + 1}", b"", b"413"),
    "not JSON, bad signature": ("Content-Type: text/plain\r\nContent-Length: 2", b"{}", b"401"),
    "JSON, bad signature": (JSON + "Content-Length: 2", b"{}", b"401"),
}


@pytest.mark.parametrize("case", BEFORE_THE_SIGNATURE)
async def test_no_answer_before_the_signature_tells_a_known_party_from_an_unknown_one(
    sqlite_url: str, case: str
) -> None:
    """Party ids cannot be enumerated: a request that does not get as far as its signature is
    answered from its headers alone, the same for a real unit and a made-up one, and unsigned."""
    framing, body, status = BEFORE_THE_SIGNATURE[case]
    async with platform_env(sqlite_url) as env:
        known = await _raw_post(env.url, _unsigned(UNIT), framing, body)
        unknown = await _raw_post(env.url, _unsigned("NOBODY"), framing, body)
    assert known[0].split(b" ")[1] == status
    assert (known[0], known[2]) == (unknown[0], unknown[2])
    for answer in (known, unknown):
        assert b"x-fillfloor-reply-signature" not in answer[1].lower()


async def test_an_answer_before_the_signature_is_unsigned_even_to_the_real_party(sqlite_url: str) -> None:
    """A 413 the platform signed could be had by anyone on the path (who alters a real request's
    Content-Length) for the floor's nonce: it is sent unsigned, and the floor takes only its safe
    effect (a smaller batch, tests/platform/test_platform_client_limits.py)."""
    async with platform_env(sqlite_url) as env:
        headers = sign_request(UNIT, env.keys[UNIT], "POST", "/v1/records", b"", int(time.time()), "d" * 32)
        status, head, body = await _raw_post(
            env.url, headers, JSON + f"Content-Length: {(16 << 20) + 1}", b""
        )
    assert status.split(b" ")[1] == b"413"
    assert b'"request.too_large"' in body
    assert b"x-fillfloor-reply-signature" not in head.lower()


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
