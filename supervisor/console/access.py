"""What the console server needs of the floor, and nothing more: the floor's events as the text a
console is sent, a snapshot, a command carried out, a token looked up.

Two kinds of access give it. `in_process.InProcessAccess` is the floor itself (tests, the demo,
benchmarks). `pipe_access.PipeAccess` is the floor in another process, over one pipe: `fillfloor
serve` runs its console server in a child process (`bridge.ConsoleProcess`), so that no console
traffic, however much, takes the floor's loop from its devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import trio

from supervisor.runtime.maintenance import CommandResult
from supervisor.storage.users import ConsoleUser

__all__ = ["EventFeed", "FloorAccess"]


class EventFeed(Protocol):
    """One console's share of the floor's events, each as the text to send; `receive` raises
    `SubscriberLagged` once the console fell too far behind, and `trio.EndOfChannel` once closed."""

    async def receive(self) -> str: ...

    def close(self) -> None: ...


class FloorAccess(Protocol):
    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Its own work for as long as the server runs (following the floor, or the pipe)."""
        ...

    def follow(self, name: str, capacity: int) -> EventFeed: ...

    async def snapshot(self) -> dict[str, Any]: ...

    async def command(self, user: ConsoleUser, name: str, args: Mapping[str, Any]) -> CommandResult: ...

    async def authenticate(self, token: str) -> ConsoleUser | None: ...
