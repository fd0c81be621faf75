"""A console client for the tests: a user with a token, hello, waiting for a message, a command."""

from __future__ import annotations

import json
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from domain.checks import answered_in_full
from supervisor.storage import open_database
from supervisor.storage.database import Database
from supervisor.storage.users import add_user

__all__ = ["add_supervisor", "command", "event", "hello", "passed_check", "receive", "user"]


async def user(db: Database, name: str, role: str, station: str | None = None) -> str:
    """A console user; returns the token."""

    def add() -> str:
        with db.transaction() as conn:
            return add_user(conn, name, role, station)

    return await trio.to_thread.run_sync(add)


async def receive(ws: WebSocketConnection, type_: str, timeout: float = 10) -> dict[str, Any]:
    """The next message of that type (the floor's events in between are passed over)."""
    with trio.fail_after(timeout):
        while True:
            message = json.loads(await ws.get_message())
            if message["type"] == type_:
                return message


async def hello(ws: WebSocketConnection, token: str) -> dict[str, Any]:
    await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
    return await receive(ws, "welcome")


async def command(
    ws: WebSocketConnection,
    cid: int | str,
    name: str,
    passed: list[dict[str, Any]] | None = None,
    **args: Any,
) -> dict[str, Any]:
    """The reply to the command; the messages that came before it go to `passed` (the event the
    command causes may come before its reply: the two travel apart from the floor)."""
    await ws.send_message(json.dumps({"type": "command", "id": cid, "command": name, "args": args}))
    with trio.fail_after(10):
        while True:
            message = json.loads(await ws.get_message())
            if message["type"] == "reply" and message["id"] == cid:
                return message
            if passed is not None:
                passed.append(message)


async def event(
    ws: WebSocketConnection, passed: list[dict[str, Any]], type_: str, *, within_s: float = 10, **fields: Any
) -> dict[str, Any]:
    """The first floor event of that type with those fields: among `passed`, else the next (within
    `within_s`)."""

    def wanted(message: dict[str, Any]) -> bool:
        found = message.get("event", {})
        return found.get("type") == type_ and all(found.get(k) == v for k, v in fields.items())

    for message in passed:
        if wanted(message):
            return dict(message["event"])
    with trio.fail_after(within_s):
        while True:
            message = json.loads(await ws.get_message())
            if wanted(message):
                return dict(message["event"])


async def passed_check(ws: WebSocketConnection, cid: int, cylinder: str, phase: str = "pre") -> None:
    """A checker's pass, every item checked and passed, sent without waiting for the reply (the
    floor's events keep coming on the same connection)."""
    args = {
        "cylinder": cylinder,
        "phase": phase,
        "result": "pass",
        "items": answered_in_full(phase, True, {}),
    }
    await ws.send_message(json.dumps({"type": "command", "id": cid, "command": "check", "args": args}))


def add_supervisor(db: str) -> str:
    """A supervisor of the floor whose database that is; returns the token."""
    database = open_database(db)
    try:
        with database.transaction() as conn:
            return add_user(conn, "sup", "supervisor")
    finally:
        database.close()
