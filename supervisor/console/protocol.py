"""The console protocol: JSON text messages over a WebSocket, version 1 (docs/console-protocol.md).

Client → server: `{"type": "hello", "v": 1, "token": "..."}` first, then
`{"type": "command", "id": <str|int>, "command": "<name>", "args": {...}}`.
Server → client: `welcome`, `snapshot`, `event`, `reply` (to a command, by id), `error`, `bye`.
Anything else — not JSON, not an object, too big, a wrong type, a missing field — is a
`ProtocolError` with a stable code, answered with an `error` message; the session goes on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from attrs import frozen

__all__ = ["MAX_MESSAGE_BYTES", "VERSION", "Command", "Hello", "ProtocolError", "encode", "parse"]

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024  # a console sends commands, not files


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@frozen
class Hello:
    token: str
    version: int


@frozen
class Command:
    id: str | int
    name: str
    args: Mapping[str, Any]


def parse(text: str | bytes) -> Hello | Command:
    if isinstance(text, bytes):
        raise ProtocolError("protocol.binary", "messages are JSON text, not binary frames")
    if len(text.encode("utf-8", errors="replace")) > MAX_MESSAGE_BYTES:
        raise ProtocolError("protocol.too_big", f"a message may hold at most {MAX_MESSAGE_BYTES} bytes")
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
    kind = obj.get("type")
    if kind == "hello":
        token, version = obj.get("token"), obj.get("v")
        if not isinstance(token, str) or not token:
            raise ProtocolError("protocol.field", "hello: token must be a non-empty string")
        if version != VERSION:
            raise ProtocolError("protocol.version", f"this server speaks version {VERSION}, not {version!r}")
        return Hello(token, version)
    if kind == "command":
        cid, name, args = obj.get("id"), obj.get("command"), obj.get("args", {})
        if not isinstance(cid, str | int) or isinstance(cid, bool):
            raise ProtocolError("protocol.field", "command: id must be a string or an integer")
        if not isinstance(name, str) or not name:
            raise ProtocolError("protocol.field", "command: command must be a non-empty string")
        if not isinstance(args, dict):
            raise ProtocolError("protocol.field", "command: args must be an object")
        return Command(cid, name, args)
    raise ProtocolError("protocol.type", f"unknown message type {kind!r} (hello, command)")


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


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, default=_default, separators=(",", ":"))
