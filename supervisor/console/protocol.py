"""The console protocol: JSON text messages over a WebSocket, version 1 (docs/console-protocol.md).

One typed class per message, both ways, and the only place their JSON form is made and read: the
server (`supervisor.console.server`) and the terminal console (`tui.connection`) both use
`encode` and the decoder for what they receive, so neither builds a message by hand.

Client → server: `Hello` first, then `Command`s. Server → client: `Welcome`, `Snapshot`, `Event`
(a floor event of `domain.events`), `Reply` (to a command, by id), `Error`, `Bye`.
What does not decode — not JSON, not an object, too big, a wrong type, a field missing or of the
wrong kind — is a `ProtocolError` with a stable code, its message naming the field; the server
answers it with an `Error` and the session goes on, the console drops the message.

Kept importable by the console (layer 0 in tests/project/test_layers.py): imports only `domain`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias

from attrs import field, frozen

from domain.events import BadEvent, FloorEvent
from domain.events import decode as decode_event
from domain.events import encode as encode_event

__all__ = [
    "MAX_MESSAGE_BYTES",
    "VERSION",
    "AlarmWords",
    "Bye",
    "ClientMessage",
    "Command",
    "Error",
    "Event",
    "Hello",
    "ProtocolError",
    "Reply",
    "ServerMessage",
    "Snapshot",
    "Welcome",
    "decode_client",
    "decode_server",
    "encode",
]

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024  # a console sends commands, not files (the server's limit)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


# --- client → server ------------------------------------------------------------------------------
@frozen
class Hello:
    token: str
    version: int = VERSION


@frozen
class Command:
    id: str | int
    name: str
    args: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)


ClientMessage: TypeAlias = Hello | Command


# --- server → client ------------------------------------------------------------------------------
@frozen
class Welcome:
    user: str
    role: str
    station: str | None = None
    version: int = VERSION


@frozen
class Snapshot:
    """The floor now (its fields: docs/console-protocol.md, "Snapshot"; read leniently by a console)."""

    snapshot: Mapping[str, Any]


@frozen
class AlarmWords:
    """What an alarm event's message says, as its kind's text and parameters
    (`domain.alarm_notices.alarm_message`), for a console to say it in its own language."""

    text: str  # which of the kind's texts
    params: Mapping[str, str] = field(factory=dict, converter=_frozen_mapping)


@frozen
class Event:
    at: float  # when it happened, seconds since the epoch
    event: FloorEvent
    words: AlarmWords | None = None  # an alarm's, where the floor knows them


@frozen
class Reply:
    """A command's answer. `code` and `params` say it for a console to put in its own words
    (`domain.catalogue`); `message` is the same in English, for the audit and older consoles.
    The `snapshot` command's reply carries a snapshot instead."""

    id: str | int
    ok: bool
    code: str = ""
    params: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
    message: str = ""
    snapshot: Mapping[str, Any] | None = None


@frozen
class Error:
    code: str
    message: str


@frozen
class Bye:
    reason: str  # in English, for the console's status line and the log
    code: str = ""  # what a console matches on (`console.lagged`, `console.too_slow`)
    params: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)


ServerMessage: TypeAlias = Welcome | Snapshot | Event | Reply | Error | Bye


# --- encoding ---------------------------------------------------------------------------------------
def _json_form(message: ClientMessage | ServerMessage) -> dict[str, Any]:
    match message:
        case Hello(token, version):
            return {"type": "hello", "v": version, "token": token}
        case Command(cid, name, args):
            return {"type": "command", "id": cid, "command": name, "args": dict(args)}
        case Welcome(user, role, station, version):
            return {"type": "welcome", "v": version, "user": user, "role": role, "station": station}
        case Snapshot(snapshot):
            return {"type": "snapshot", "snapshot": snapshot}
        case Event(at, event, words):
            sent: dict[str, Any] = {"type": "event", "at": at, "event": encode_event(event)}
            if words is not None:
                sent["words"] = {"text": words.text, "params": dict(words.params)}
            return sent
        case Reply(cid, ok, code, params, text, snapshot):
            out: dict[str, Any] = {"type": "reply", "id": cid, "ok": ok}
            if snapshot is not None:
                return out | {"snapshot": snapshot}
            return out | {"code": code, "params": dict(params), "message": text}
        case Error(code, text):
            return {"type": "error", "code": code, "message": text}
        case Bye(reason, code, params):
            return {"type": "bye", "reason": reason} | (
                {"code": code, "params": dict(params)} if code else {}
            )
    raise TypeError(f"not a console message: {message!r}")  # pragma: no cover - the union is closed


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def encode(message: ClientMessage | ServerMessage) -> str:
    return json.dumps(_json_form(message), ensure_ascii=False, default=_default, separators=(",", ":"))


# --- decoding ---------------------------------------------------------------------------------------
def _object(text: str | bytes, limit: int | None) -> dict[str, Any]:
    if isinstance(text, bytes):
        raise ProtocolError("protocol.binary", "messages are JSON text, not binary frames")
    if limit is not None and len(text.encode("utf-8", errors="replace")) > limit:
        raise ProtocolError("protocol.too_big", f"a message may hold at most {limit} bytes")
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("protocol.not_json", f"not JSON: {exc}") from None
    except RecursionError:  # `[[[[…` within the size limit: json recurses per level (fuzzing)
        raise ProtocolError("protocol.not_json", "not JSON: nested too deeply") from None
    if _unpaired_surrogate(obj):
        # JSON lets `"\ud800"` through, but it is no character: a reply echoing it (the id) could
        # not be sent, killing the session, and an audit row holding it was refused by the
        # database, a console command left unrecorded (found by fuzzing).
        raise ProtocolError("protocol.not_json", "not JSON text: an unpaired surrogate escape (\\udXXX)")
    if not isinstance(obj, dict):
        raise ProtocolError("protocol.not_object", "a message is a JSON object")
    return obj


def _unpaired_surrogate(value: object) -> bool:
    stack = [value]
    while stack:  # (not recursive: the document is as deep as json.loads allowed)
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _is_text(v: object) -> bool:
    return isinstance(v, str) and bool(v)


def _is_id(v: object) -> bool:
    return isinstance(v, str | int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_object(v: object) -> bool:
    return isinstance(v, dict)


def _is_words(v: object) -> bool:
    if not isinstance(v, dict) or not _is_text(v.get("text")) or not isinstance(v.get("params"), dict):
        return False
    return all(isinstance(k, str) and isinstance(p, str) for k, p in v["params"].items())


def _field(
    obj: Mapping[str, Any],
    kind: str,
    name: str,
    ok: Callable[[object], bool],
    what: str,
    default: object = ...,
) -> Any:
    """`obj[name]` if `ok` says it is right (or `default` when it is left out, if there is one);
    else a `protocol.field` error naming it."""
    if name not in obj and default is not ...:
        return default
    value = obj.get(name)
    if not ok(value):
        raise ProtocolError("protocol.field", f"{kind}: {name} must be {what}")
    return value


def decode_client(text: str | bytes) -> ClientMessage:
    """What a console sent (the server's side)."""
    obj = _object(text, MAX_MESSAGE_BYTES)
    kind = obj.get("type")
    if kind == "hello":
        token = _field(obj, kind, "token", _is_text, "a non-empty string")
        version = obj.get("v")
        if version != VERSION:
            raise ProtocolError("protocol.version", f"this server speaks version {VERSION}, not {version!r}")
        return Hello(token, version)
    if kind == "command":
        cid = _field(obj, kind, "id", _is_id, "a string or an integer")
        name = _field(obj, kind, "command", _is_text, "a non-empty string")
        args = _field(obj, kind, "args", _is_object, "an object", default={})
        return Command(cid, name, args)
    raise ProtocolError("protocol.type", f"unknown message type {kind!r} (hello, command)")


def decode_server(text: str | bytes) -> ServerMessage:
    """What the server sent (the console's side). An event of a type this build does not know is a
    `protocol.unknown_event` error: a newer floor's, for the console to pass over."""
    obj = _object(text, None)  # (the WebSocket's own limit bounds a snapshot)
    kind = obj.get("type")
    if kind == "welcome":
        if obj.get("v") != VERSION:
            raise ProtocolError(
                "protocol.version", f"this console speaks version {VERSION}, not {obj.get('v')!r}"
            )
        station = _field(obj, kind, "station", lambda v: v is None or isinstance(v, str), "a string or null",
                         default=None)  # fmt: skip
        return Welcome(_field(obj, kind, "user", _is_text, "a non-empty string"),
                       _field(obj, kind, "role", _is_text, "a non-empty string"), station)  # fmt: skip
    if kind == "snapshot":
        return Snapshot(_field(obj, kind, "snapshot", _is_object, "an object"))
    if kind == "event":
        at = _field(obj, kind, "at", _is_number, "a number")
        body = _field(obj, kind, "event", _is_object, "an object")
        try:
            event = decode_event(body)
        except BadEvent as exc:
            raise ProtocolError("protocol.field", f"event: {exc}") from None
        if event is None:
            raise ProtocolError("protocol.unknown_event", f"event: unknown type {body.get('type')!r}")
        words = _field(obj, kind, "words", _is_words, "an object of a text and text params", default=None)
        return Event(float(at), event, None if words is None else AlarmWords(words["text"], words["params"]))
    if kind == "reply":
        cid = _field(obj, kind, "id", _is_id, "a string or an integer")
        ok = _field(obj, kind, "ok", lambda v: isinstance(v, bool), "true or false")
        if "snapshot" in obj:
            return Reply(cid, ok, snapshot=_field(obj, kind, "snapshot", _is_object, "an object"))
        return Reply(
            cid, ok,
            _field(obj, kind, "code", _is_str, "a string", default=""),
            _field(obj, kind, "params", _is_object, "an object", default={}),
            _field(obj, kind, "message", _is_str, "a string", default=""),
        )  # fmt: skip
    if kind == "error":
        code = _field(obj, kind, "code", _is_text, "a non-empty string")
        return Error(code, _field(obj, kind, "message", _is_str, "a string", default=""))
    if kind == "bye":
        return Bye(
            _field(obj, kind, "reason", _is_str, "a string", default=""),
            _field(obj, kind, "code", _is_str, "a string", default=""),
            _field(obj, kind, "params", _is_object, "an object", default={}),
        )
    raise ProtocolError("protocol.type", f"unknown message type {kind!r} (welcome, snapshot, event, reply, "
                                         "error, bye)")  # fmt: skip
