"""Fuzzing the platform's replies as the floor reads them (platform_client/api.py, registry_changes.py).

Whatever comes back over a real loopback socket — any status, headers, JSON of any shape, bytes that
are not HTTP at all, a connection closed mid-reply — an upload or a registry pull ends in exactly one
of: the platform's answers for records that were sent (each stored, duplicate or rejected),
`Unavailable` (try again later) or `Refused` (4xx naming what is wrong); never another exception,
which would cost the sync its loop. A record the reply does not answer for is not in the result, so it
stays pending. Any registry change reads as an update, as not ours (None) or as `BadChange`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from platform_client.api import PlatformApi, Refused, Unavailable
from platform_client.backoff import MAX_RETRY_AFTER_S, parse_retry_after
from platform_client.registry_changes import BadChange, read_change
from supervisor.storage.outbox import OutboxItem
from tests.support.fake_platform import UNIT, against, signed
from tests.support.strategies import examples

SENT = ("F-1", "F-2", "C-3")
ITEMS = [
    OutboxItem(rid, "fill", {"n": i}, "2026-11-24T08:00:00+00:00", 0, None) for i, rid in enumerate(SENT)
]
RETRYABLE = {408, 425, 429}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
outcomes = st.fixed_dictionaries(
    {},
    optional={
        "record_id": st.sampled_from([*SENT, "X-9", ""]) | json_values,
        "status": st.sampled_from(["stored", "duplicate", "rejected", "STORED", ""]) | json_values,
        "reason": st.sampled_from(["record.bad_field", ""]) | json_values,
        "field": json_values,
        "detail": json_values,
    },
)
upload_bodies = st.fixed_dictionaries({"results": st.lists(outcomes | json_values, max_size=6)}) | json_values
changes_bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "changes": st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=3), max_size=3)
            | json_values,
            "cursor": st.integers(-5, 50) | json_values,
            "more": st.booleans() | json_values,
            "latest": st.integers(0, 50) | json_values,
        },
    )
    | json_values
)
statuses = st.sampled_from(
    [200, 201, 204, 301, 400, 401, 403, 404, 408, 413, 422, 425, 429, 500, 503]
) | st.integers(100, 599)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30)


def http_reply(status: int, body: bytes, retry_after: str | None) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Content-Type: application/json",
            "Connection: close"]  # fmt: skip
    if retry_after is not None:
        head.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


replies = st.builds(
    http_reply,
    statuses,
    upload_bodies.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=40),
    st.none() | header_values | st.sampled_from(["2", "²", "9" * 400, "Wed, 21 Oct 2015 07:28:00 GMT"]),
)
raw_replies = st.binary(max_size=200)  # not HTTP at all, or cut short


async def _ask(reply: bytes, call: Callable[[PlatformApi], Any]) -> Any:
    """Serve `reply` to one request on a real loopback socket, signed for it as the platform signs
    (the parsing behind the signature check is what is fuzzed here); what `call` made of it."""

    async def answer(stream: trio.SocketStream, request: bytes) -> None:
        with trio.move_on_after(2):
            await stream.send_all(signed(reply, request))

    return await against(answer, call, timeout_s=2)


def upload(reply: bytes) -> Any:
    return trio.run(_ask, reply, lambda api: api.upload(ITEMS))


def check_upload_outcome(result: Any) -> None:
    if isinstance(result, Unavailable):
        assert result.status in {
            "unreachable",
            "timeout",
            "lost_reply",
            "bad_reply",
            "forged_reply",  # (signed over a body HTTP does not let through: a 204's, say)
        } or result.status.startswith("http_"), result.status
        assert result.retry_after_s is None or 0 <= result.retry_after_s <= MAX_RETRY_AFTER_S
        return
    if isinstance(result, Refused):
        assert 400 <= result.http_status < 500
        assert result.http_status not in RETRYABLE
        assert result.code
        assert result.field is None or isinstance(result.field, str)
        return
    assert isinstance(result, dict)
    assert set(result) <= set(SENT)  # only records that were sent: the others stay pending
    for rid, outcome in result.items():
        assert outcome.record_id == rid
        assert outcome.status in ("stored", "duplicate", "rejected")
        assert isinstance(outcome.dead_letter_text(), str)


@settings(max_examples=examples(150), deadline=None)
@given(replies | raw_replies)
@example(http_reply(503, b"{}", "\u00b2"))  # a digit to str.isdigit, not to float()
@example(http_reply(429, b"{}", "9" * 400))  # Retry-After beyond any float: capped, not forever
@example(http_reply(200, json.dumps({"results": [{"record_id": "F-1", "status": "stored"}]}).encode(), None))
def test_any_upload_reply_is_answers_unavailable_or_refused(reply: bytes) -> None:
    check_upload_outcome(upload(reply))


def test_a_good_reply_answers_only_for_the_records_it_names() -> None:
    rejected = {
        "record_id": "C-3",
        "status": "rejected",
        "reason": "record.bad_field",
        "field": "records[2].payload",
    }
    body = {
        "results": [
            {"record_id": "F-1", "status": "stored"},
            rejected,
            {"record_id": "X-9", "status": "stored"},
        ]
    }
    result = upload(http_reply(200, json.dumps(body).encode(), None))
    assert isinstance(result, dict)
    assert sorted(result) == ["C-3", "F-1"]  # F-2 unanswered: stays pending; X-9 was never sent
    assert result["C-3"].dead_letter_text() == "record.bad_field: records[2].payload"


@settings(max_examples=examples(100), deadline=None)
@given(
    st.builds(http_reply, statuses, changes_bodies.map(lambda v: json.dumps(v).encode()), st.none())
    | raw_replies
)
def test_any_changes_reply_is_a_page_unavailable_or_refused(reply: bytes) -> None:
    page = trio.run(_ask, reply, lambda api: api.changes(10, 500))
    if isinstance(page, Unavailable):
        assert page.status
        return
    if isinstance(page, Refused):
        assert 400 <= page.http_status < 500
        return
    assert page.cursor >= 10  # a cursor never goes back
    assert all(isinstance(c, dict) for c in page.changes)


CHANGE_FIELDS = ("code", "owner", "model", "tare_kg", "manufactured", "last_inspection", "next_inspection",
                 "status", "blocked", "photos", "id", "name", "disabled", "certificate_expires", "result",
                 "station", "unit")  # fmt: skip
field_values = (
    json_values | st.dates().map(str) | st.sampled_from(["YSP35.5", UNIT, "in_service", "pass", "15.2"])
)
changes = st.fixed_dictionaries(
    {},
    optional={
        "seq": json_values,
        "type": st.sampled_from(["archive", "inspection", "operator", "station", "unit", "nope"])
        | json_values,
        "data": st.dictionaries(
            st.sampled_from(CHANGE_FIELDS) | st.text(max_size=6), field_values, max_size=12
        )
        | json_values,
    },
)


@settings(max_examples=examples(400))
@given(changes)
def test_any_registry_change_reads_as_an_update_not_ours_or_a_bad_change(change: dict[str, Any]) -> None:
    try:
        read_change(change, UNIT)
    except BadChange as exc:
        problem = exc.problem
    else:
        problem = "none"
    assert problem  # a bad change says what is wrong with it


@given(header_values | st.text(max_size=20))
@example("²")
@example("9" * 400)
def test_any_retry_after_header_is_a_bounded_wait_or_none(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_S
