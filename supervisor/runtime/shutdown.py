"""Shutdown on SIGINT/SIGTERM: close every valve first, then stop the tree in order.

First signal: `close_valves()` runs at once (every station's permit revoked: no new fill can start
and every valve is driven closed), then the floor is cancelled and its supervisors stop their
children in reverse start order, so the storage writer (started first) finishes writing the last
records before it stops. A second signal exits at once: the valves are already closed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

import trio

__all__ = ["run_until_signalled"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signalled(
    floor: Callable[..., Awaitable[None]],
    close_valves: Callable[[], None],
    *,
    exit_at_once: Callable[[int], None] = lambda signum: os._exit(128 + signum),
) -> int | None:
    """Run `floor(task_status=...)` until it ends or a signal arrives; returns the signal number."""
    received: int | None = None
    with trio.open_signal_receiver(*SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            floor_scope = trio.CancelScope()

            async def run_floor(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                with floor_scope:
                    await floor(task_status=task_status)
                nursery.cancel_scope.cancel()

            async def watch() -> None:
                nonlocal received
                async for signum in signals:
                    if received is None:
                        received = signum
                        close_valves()
                        floor_scope.cancel()
                    else:
                        exit_at_once(signum)

            nursery.start_soon(watch)
            await nursery.start(run_floor)
    return received
