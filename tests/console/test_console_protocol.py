"""The console protocol: every message both ways survives its JSON form, and what does not hold
together is refused with a code and the field named."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from domain.events import AlarmRaised, FillCompleted, StationWeight
from supervisor.console.protocol import (
    MAX_MESSAGE_BYTES,
    VERSION,
    AlarmWords,
    Bye,
    ClientMessage,
    Command,
    Error,
    Event,
    Hello,
    ProtocolError,
    Reply,
    ServerMessage,
    Snapshot,
    Welcome,
    decode_client,
    decode_server,
    encode,
)

SCAN = {"type": "scan", "station": "S1", "raw": "x"}
CLIENT: list[ClientMessage] = [
    Hello("tok"),
    Command(7, "pause", {"station": "S1"}),
    Command("a", "snapshot"),
    Command(8, "check", {"cylinder": "HY00120000123", "items": {"valve": "不合格"}}),
]
SERVER: list[ServerMessage] = [
    Welcome("王班长", "supervisor"),
    Welcome("张三", "operator", "S1"),
    Snapshot({"stations": [{"id": "S1", "state": "idle"}], "unacknowledged": 0}),
    Event(1_764_000_000.125, AlarmRaised("S1.scale_lost", "device.scale_lost", "high", "与秤失去联系", "S1")),
    Event(
        2.0,
        AlarmRaised("S1.scanner_lost", "device.scanner_lost", "medium", "扫码枪断开：cut", "S1"),
        AlarmWords("raised", {"detail": "cut"}),
    ),
    Event(1.5, FillCompleted("S1", "C1", "r1", 15.2, 29.7, 29.7, 14.5, None, ("overfill",))),
    Reply(7, True, "console.done", {"station": "S1", "command": "pause"}, "S1: pause"),
    Reply(-1, True, snapshot={"stations": []}),
    Error("protocol.field", "command: id must be a string or an integer"),
    Bye("too slow to take messages"),
    Bye("fell behind", "console.lagged", {"limit": 2000}),
]


@pytest.mark.parametrize("message", CLIENT, ids=repr)
def test_every_client_message_comes_back_as_it_was_sent(message: ClientMessage) -> None:
    assert decode_client(encode(message)) == message


@pytest.mark.parametrize("message", SERVER, ids=repr)
def test_every_server_message_comes_back_as_it_was_sent(message: ServerMessage) -> None:
    assert decode_server(encode(message)) == message


def test_the_wire_form_is_the_documented_one() -> None:
    """docs/console-protocol.md, "Session": the names on the wire are a contract."""
    assert json.loads(encode(Hello("tok"))) == {"type": "hello", "v": VERSION, "token": "tok"}
    assert json.loads(encode(Command(7, "pause", {"station": "S1"}))) == {
        "type": "command", "id": 7, "command": "pause", "args": {"station": "S1"}}  # fmt: skip
    assert json.loads(encode(Welcome("u", "viewer"))) == {
        "type": "welcome", "v": VERSION, "user": "u", "role": "viewer", "station": None}  # fmt: skip
    weight = json.loads(encode(Event(2.0, StationWeight("S1", Decimal("22.41"), False))))
    assert weight == {"type": "event", "at": 2.0, "event": {
        "type": "station.weight", "station": "S1", "gross_kg": 22.41, "stable": False}}  # fmt: skip
    reply = json.loads(encode(Reply(7, False, "station.unknown", {"station": "S9"}, "no station 'S9'")))
    assert reply == {"type": "reply", "id": 7, "ok": False, "code": "station.unknown",
                     "params": {"station": "S9"}, "message": "no station 'S9'"}  # fmt: skip
    assert json.loads(encode(Bye("why"))) == {"type": "bye", "reason": "why"}


def test_an_older_servers_reply_without_a_code_still_reads() -> None:
    reply = decode_server('{"type": "reply", "id": 3, "ok": true, "message": "S1: pause"}')
    assert reply == Reply(3, True, "", {}, "S1: pause")


@pytest.mark.parametrize(("text", "code", "names"), [
    (b'{"type": "hello"}', "protocol.binary", ""),
    ("x" * (MAX_MESSAGE_BYTES + 1), "protocol.too_big", ""),
    ("{", "protocol.not_json", ""),
    ("[" * 60_000, "protocol.not_json", ""),  # within the size, too deep for json
    ('{"type": "command", "id": "\\ud800", "command": "ack"}', "protocol.not_json", ""),
    ("[1]", "protocol.not_object", ""),
    ('{"type": "nope"}', "protocol.type", ""),
    ('{"type": "welcome"}', "protocol.type", ""),  # a server's message, not a console's
    ('{"type": "hello", "v": 1}', "protocol.field", "token"),
    ('{"type": "hello", "v": 1, "token": ""}', "protocol.field", "token"),
    ('{"type": "hello", "v": 2, "token": "t"}', "protocol.version", ""),
    ('{"type": "command", "id": true, "command": "ack"}', "protocol.field", "id"),
    ('{"type": "command", "id": 1.5, "command": "ack"}', "protocol.field", "id"),
    ('{"type": "command", "id": 1, "command": ""}', "protocol.field", "command"),
    ('{"type": "command", "id": 1, "command": "ack", "args": []}', "protocol.field", "args"),
])  # fmt: skip
def test_a_bad_client_message_is_refused_with_its_code(text: str | bytes, code: str, names: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_client(text)
    assert caught.value.code == code
    assert names in caught.value.message


@pytest.mark.parametrize(("obj", "code", "names"), [
    ({"type": "hello", "v": 1, "token": "t"}, "protocol.type", ""),  # a console's message
    ({"type": "welcome", "v": 2, "user": "u", "role": "r"}, "protocol.version", ""),
    ({"type": "welcome", "v": 1, "user": "u"}, "protocol.field", "role"),
    ({"type": "welcome", "v": 1, "user": "u", "role": "r", "station": 3}, "protocol.field", "station"),
    ({"type": "snapshot", "snapshot": []}, "protocol.field", "snapshot"),
    ({"type": "event", "event": {"type": "scan", "station": "S1", "raw": "x"}}, "protocol.field", "at"),
    ({"type": "event", "at": True, "event": {"type": "scan", "station": "S1"}}, "protocol.field", "at"),
    ({"type": "event", "at": 1, "event": {"type": "scan", "station": "S1"}}, "protocol.field", "raw"),
    ({"type": "event", "at": 1, "event": SCAN, "words": {"text": "raised"}}, "protocol.field", "words"),
    ({"type": "event", "at": 1, "event": SCAN, "words": {"text": "raised", "params": {"detail": 3}}},
     "protocol.field", "words"),
    ('{"type": "event", "at": NaN, "event": {}}', "protocol.field", "at"),  # (json reads NaN)
    ({"type": "event", "at": 1, "event": {"type": "sim.mass"}}, "protocol.unknown_event", "sim.mass"),
    ({"type": "reply", "id": 1}, "protocol.field", "ok"),
    ({"type": "reply", "id": None, "ok": True}, "protocol.field", "id"),
    ({"type": "reply", "id": 1, "ok": False, "params": "x"}, "protocol.field", "params"),
    ({"type": "reply", "id": 1, "ok": True, "snapshot": 1}, "protocol.field", "snapshot"),
    ({"type": "error", "message": "m"}, "protocol.field", "code"),
    ({"type": "bye", "reason": 1}, "protocol.field", "reason"),
])  # fmt: skip
def test_a_bad_server_message_is_refused_with_its_code(
    obj: dict[str, Any] | str, code: str, names: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_server(obj if isinstance(obj, str) else json.dumps(obj))
    assert caught.value.code == code
    assert names in caught.value.message
