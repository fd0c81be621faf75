"""What the floor will take from something answering as its platform (issue 19): a reply too big to
be the platform's is not read into memory, a reply that drips never holds an upload beyond one
deadline, a registry cursor beyond the latest change is not believed, a reply the platform did not
sign for the very request it answers is not acted on, and plain HTTP goes only to a platform on the
floor's own machine."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
import trio

from domain.setting import FieldProblem
from platform_client.api import MAX_REPLY_BYTES, Refused, Unavailable
from supervisor.config import PlatformConfig
from supervisor.storage.outbox import OutboxItem
from tests.support.fake_platform import against, signed

Forge = Callable[[bytes, bytes], bytes]  # (the reply, the request's head) -> what is sent
ITEMS = [OutboxItem("F-1", "fill", {"n": 1}, "2026-11-24T08:00:00+00:00", 0, None)]


def _head(extra: str = "", status: int = 200) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}\r\n"
    return head.encode()


@pytest.mark.parametrize("declared", [True, False])
async def test_a_reply_too_big_to_be_the_platforms_is_not_read_into_memory(declared: bool) -> None:
    sent = [0]
    size = 20 * MAX_REPLY_BYTES

    async def huge(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(_head(f"Content-Length: {size}\r\n" if declared else ""))
        chunk = b" " * 65536
        while sent[0] < size:
            await stream.send_all(chunk)
            sent[0] += len(chunk)

    result = await against(huge, lambda api: api.upload(ITEMS))
    assert isinstance(result, Unavailable)
    assert result.status == "bad_reply"
    assert "over" in result.detail
    assert sent[0] < size // 4  # the floor stopped reading long before the end


async def test_a_reply_that_drips_ends_at_the_requests_deadline(autojump_clock: trio.abc.Clock) -> None:
    async def drip(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(_head("Content-Length: 100000\r\n"))
        for _ in range(100_000):
            await stream.send_all(b" ")
            await trio.sleep(1.0)  # each read well within the 5 s read timeout

    started = trio.current_time()
    result = await against(drip, lambda api: api.upload(ITEMS), deadline_s=30.0)
    assert isinstance(result, Unavailable)
    assert result.status == "timeout"
    assert trio.current_time() - started < 31.0


async def test_a_registry_cursor_beyond_the_latest_change_is_not_believed() -> None:
    body = json.dumps({"changes": [], "cursor": 99, "more": False, "latest": 10}).encode()

    async def beyond(stream: trio.SocketStream, request: bytes) -> None:
        await stream.send_all(signed(_head(f"Content-Length: {len(body)}\r\n") + body, request))

    result = await against(beyond, lambda api: api.changes(5, 100))
    assert isinstance(result, Unavailable)
    assert result.status == "bad_reply"


FORGED_CHANGE = {  # what a forged reply once registered: a cylinder inspected until 2035
    "seq": 11,
    "type": "archive",
    "data": {"code": "HY0012-000001", "next_inspection": "2035-01-01", "status": "in_service"},
}


def _reply(status: int, body: object) -> bytes:
    content = json.dumps(body).encode()
    return _head(f"Content-Length: {len(content)}\r\n", status) + content


def _swap_nonce(request: bytes) -> bytes:
    """The head of another request: the same but for its nonce (a reply recorded and replayed)."""
    return re.sub(rb"(?im)^(x-fillfloor-nonce:\s*)\S+", rb"\g<1>" + b"0" * 32, request)


@pytest.mark.parametrize(
    "forge",
    [
        lambda reply, request: reply,  # not signed at all
        lambda reply, request: signed(reply, request, key="ffk_" + "x" * 40),  # another key
        lambda reply, request: signed(reply, _swap_nonce(request)),  # signed for another request
        lambda reply, request: signed(reply, request).replace(b"2035", b"2036"),  # changed on the way
    ],
    ids=["unsigned", "other_key", "other_request", "altered"],
)
async def test_a_registry_change_the_platform_did_not_sign_is_not_believed(forge: Forge) -> None:
    body = {"changes": [FORGED_CHANGE], "cursor": 11, "more": False, "latest": 11}

    async def forged(stream: trio.SocketStream, request: bytes) -> None:
        await stream.send_all(forge(_reply(200, body), request))

    result = await against(forged, lambda api: api.changes(10, 100))
    assert isinstance(result, Unavailable)
    assert result.status == "forged_reply"


async def test_the_same_registry_change_signed_for_its_request_is_read() -> None:
    body = {"changes": [FORGED_CHANGE], "cursor": 11, "more": False, "latest": 11}

    async def genuine(stream: trio.SocketStream, request: bytes) -> None:
        await stream.send_all(signed(_reply(200, body), request))

    page = await against(genuine, lambda api: api.changes(10, 100))
    assert not isinstance(page, Exception)
    assert page.changes == (FORGED_CHANGE,)


@pytest.mark.parametrize("status", [200, 422])
async def test_an_unsigned_answer_about_records_neither_sends_nor_dead_letters_them(status: int) -> None:
    answers = {
        200: {"results": [{"record_id": "F-1", "status": "stored"}]},
        422: {"error": "request.invalid", "detail": "bad", "field": "records[0].payload"},
    }

    async def unsigned(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(_reply(status, answers[status]))

    result = await against(unsigned, lambda api: api.upload(ITEMS))
    assert isinstance(result, Unavailable)  # the record stays pending: sent again later
    assert result.status == "forged_reply"


@pytest.mark.parametrize(
    ("status", "kind"), [(401, Refused), (413, Refused), (503, Unavailable), (429, Unavailable)]
)
async def test_the_answers_the_platform_cannot_sign_are_taken_unsigned(status: int, kind: type) -> None:
    """A 401 (the platform does not know who asks) raises the credentials alarm; a 413 (before the
    signature is checked, or from a proxy) makes the batches smaller; 429 and 5xx wait. None of them
    stores anything or marks a record sent."""

    async def unsigned(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(_reply(status, {"error": "auth.bad_signature", "detail": "no"}))

    result = await against(unsigned, lambda api: api.upload(ITEMS))
    assert isinstance(result, kind)


@pytest.mark.parametrize("url", ["http://platform.city.example", "http://10.1.2.3:8080/api"])
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(FieldProblem, match="https"):
        PlatformConfig(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:8080"])
def test_plain_http_to_this_machine_is_allowed(url: str) -> None:
    assert PlatformConfig(url).url == url
