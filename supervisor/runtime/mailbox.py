"""Mailboxes: how actors receive messages.

Two kinds of stream (docs/architecture.md, Data flow):
- `Mailbox`: records and commands. Never dropped: a full mailbox makes the sender wait
  (back-pressure), or, with `send_nowait`/a timeout, the send fails loudly with `MailboxFull`.
- `Latest`: telemetry. Latest-wins: the producer overwrites, never waits; a slow reader sees the
  newest value and skips the ones it was too slow for.
Request/reply: `request()` sends a message carrying a one-shot `Reply` and waits with a timeout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

import trio

__all__ = ["Latest", "Mailbox", "MailboxFull", "Reply", "RequestTimeout", "request"]

T = TypeVar("T")
M = TypeVar("M")


class MailboxFull(Exception):
    """A command could not be delivered in time: the receiver is stuck or gone."""


class RequestTimeout(Exception):
    """No reply within the timeout."""


class Mailbox(Generic[T]):
    def __init__(self, owner: str, capacity: int = 64) -> None:
        self.owner = owner
        self._send, self._receive = trio.open_memory_channel[T](capacity)

    async def send(self, message: T, timeout: float = math.inf) -> None:
        if timeout == math.inf:  # the common case: plain back-pressure, no cancel scope to pay for
            await self._send.send(message)
            return
        with trio.move_on_after(timeout) as scope:
            await self._send.send(message)
        if scope.cancelled_caught:
            raise MailboxFull(
                f"{self.owner}: mailbox full for {timeout} s, {type(message).__name__} not delivered"
            )

    def send_nowait(self, message: T) -> None:
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            raise MailboxFull(f"{self.owner}: mailbox full, {type(message).__name__} not delivered") from None

    async def receive(self) -> T:
        return await self._receive.receive()

    def receive_nowait(self) -> T:
        return self._receive.receive_nowait()

    def __aiter__(self) -> Mailbox[T]:
        return self

    async def __anext__(self) -> T:
        return await self._receive.receive()

    def pending(self) -> int:
        return self._send.statistics().current_buffer_used


class Latest(Generic[T]):
    """A latest-wins slot: `set` never blocks; `next()` waits for a value newer than the last read."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._version = 0
        self._seen = 0
        self._changed = trio.Event()
        self.overwritten = 0  # values a slow reader never saw

    def set(self, value: T) -> None:
        if self._version > self._seen:
            self.overwritten += 1
        self._value = value
        self._version += 1
        self._changed.set()

    async def next(self) -> T:
        while self._version == self._seen:
            self._changed = trio.Event()
            await self._changed.wait()
        self._seen = self._version
        return self._value  # type: ignore[return-value]

    def peek(self) -> T | None:
        return self._value


class Reply(Generic[T]):
    """A one-shot reply slot carried inside a request message."""

    def __init__(self) -> None:
        self._done = trio.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def send(self, value: T) -> None:
        if self._done.is_set():
            raise RuntimeError("reply already sent")
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        if not self._done.is_set():
            self._error = error
            self._done.set()

    async def wait(self) -> T:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


async def request(mailbox: Mailbox[M], make: Callable[[Reply[T]], M], timeout: float) -> T:
    """Send `make(reply)` and wait for the reply; `RequestTimeout` past `timeout` in all."""
    reply: Reply[T] = Reply()
    with trio.move_on_after(timeout) as scope:
        await mailbox.send(make(reply))
        return await reply.wait()
    assert scope.cancelled_caught
    raise RequestTimeout(f"{mailbox.owner}: no reply within {timeout} s")
