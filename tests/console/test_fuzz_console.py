"""Fuzzing the console protocol (docs/console-protocol.md): whatever a console sends, each message
gets an `error` with a documented code or a `reply` to its id, the session goes on, the server goes
on, and every command is audited within the audit table's bounds.

Many examples against `decode_client`; a few sessions of many messages against a real `ConsoleServer` on a
real floor over real WebSockets.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import trio
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from trio_websocket import WebSocketConnection, open_websocket_url

from simulator.in_process_floor import running_floor
from supervisor.console.in_process import InProcessAccess
from supervisor.console.protocol import (
    MAX_MESSAGE_BYTES,
    Command,
    Hello,
    ProtocolError,
    Reply,
    decode_client,
    encode,
)
from supervisor.console.server import ConsoleServer
from supervisor.storage import schema as t
from tests.support.console_client import command, hello, receive, user
from tests.support.strategies import console_texts, examples

CODES = {"protocol.not_json", "protocol.not_object", "protocol.type", "protocol.field", "protocol.too_big",
         "protocol.binary", "protocol.version"}  # fmt: skip
SURROGATE_ID = '{"type":"command","id":"\\ud800","command":"pause","args":{"station":"S1"}}'
DEEP = "[" * 5000 + "]" * 5000


def answer_to(text: str) -> tuple[str, object]:
    """What the server must answer: ("error", code) or ("reply", id)."""
    try:
        message = decode_client(text)
    except ProtocolError as exc:
        return "error", exc.code
    if isinstance(message, Hello):
        return "error", "protocol.type"  # already authenticated
    return "reply", message.id


@settings(max_examples=examples(1000))
@given(console_texts | st.text() | st.binary())
@example(DEEP)
@example(SURROGATE_ID)
def test_any_message_parses_to_a_hello_a_command_or_a_protocol_error(text: str | bytes) -> None:
    message: Hello | Command | ProtocolError
    try:
        message = decode_client(text)
    except ProtocolError as exc:
        message = exc
    if isinstance(message, ProtocolError):
        assert message.code in CODES
        assert message.message
        return
    assert isinstance(text, str)
    assert len(text.encode("utf-8")) <= MAX_MESSAGE_BYTES
    if isinstance(message, Command):
        assert isinstance(message.id, str | int)
        assert not isinstance(message.id, bool)
        assert message.name
        assert isinstance(message.args, dict)
        # What the server echoes of it (the id in a reply, the arguments in an audit row) is text
        # that can be sent and stored.
        encode(Reply(message.id, False, "x", {"args": message.args})).encode()
        encode(message).encode()
    else:
        assert message.token


async def next_answer(ws: WebSocketConnection) -> dict[str, object]:
    """The next error or reply (the floor's events in between are passed over)."""
    with trio.fail_after(10):
        while True:
            message = json.loads(await ws.get_message())
            if message["type"] in ("error", "reply"):
                return message
            assert message["type"] == "event", message  # never a bye: the session goes on


@settings(max_examples=examples(10), deadline=None)
@given(st.lists(console_texts, min_size=1, max_size=12))
@example([SURROGATE_ID, DEEP, json.dumps({"type": "command", "id": 1, "command": "out_of_service",
                                          "args": {"station": "S" * 100}})])  # fmt: skip
async def test_a_session_answers_every_message_and_the_server_lives_on(messages: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with running_floor(Path(tmp)) as (floor, db, _), trio.open_nursery() as nursery:
            server = ConsoleServer(InProcessAccess(floor, db), port=0)
            url = f"ws://127.0.0.1:{await nursery.start(server.run)}"
            token = await user(db, "王班长", "supervisor")
            async with open_websocket_url(url) as ws:
                await hello(ws, token)
                await receive(ws, "snapshot")
                for text in messages:
                    await ws.send_message(text)
                    kind, detail = answer_to(text)
                    got = await next_answer(ws)
                    assert got["type"] == kind, (text[:200], got)
                    assert got["code" if kind == "error" else "id"] == detail
                assert (await command(ws, "last", "snapshot"))["ok"] is True  # the session lives on
            async with open_websocket_url(url) as ws:  # and so does the server
                await hello(ws, await user(db, "viewer", "viewer"))
                assert (await receive(ws, "snapshot"))["snapshot"]["stations"]
            await audited_within_bounds(db, sum(answer_to(m)[0] == "reply" for m in messages))
            nursery.cancel_scope.cancel()


async def audited_within_bounds(db: object, at_most: int) -> None:
    """Every audit row fits its columns (a longer one is refused by PostgreSQL: a lost record)."""
    await trio.sleep(0.1)  # (the sink writes in the background)

    def read() -> tuple[int, int]:
        with db.reading() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(select(func.count(), func.max(func.length(t.console_audit.c.target)))).one()
            return rows[0], rows[1] or 0

    count, longest = await trio.to_thread.run_sync(read)
    assert count <= at_most
    assert longest <= t.console_audit.c.target.type.length
