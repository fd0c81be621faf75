"""Child specifications and restart policy, as data you can print (in the manner of OTP).

OTP's default errs on the side of escalation: at most 1 restart in 5 s, then the supervisor gives
up and the failure goes up. A restart waits the floor's one backoff (`domain.backoff`), exponential
with jitter, so that a device that is down is not hammered and several actors failing together do
not retry in lockstep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

import trio
from attrs import field, frozen

from domain.backoff import Backoff

__all__ = ["Backoff", "ChildSpec", "Intensity", "Restart", "StartFn", "Strategy"]

# An actor's body: call task_status.started() once ready, then run until cancelled or crashed.
StartFn = Callable[..., Awaitable[None]]


class Restart(StrEnum):
    PERMANENT = "permanent"  # always restarted
    TRANSIENT = "transient"  # restarted only after a crash
    TEMPORARY = "temporary"  # never restarted (maintenance may restart it)


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"  # restart the crashed child only
    ONE_FOR_ALL = "one_for_all"  # stop all, restart all
    REST_FOR_ONE = "rest_for_one"  # stop and restart the crashed child and those started after it


@frozen
class Intensity:
    """More than `max_restarts` restarts within `period_s` and the supervisor gives up."""

    max_restarts: int = 1
    period_s: float = 5.0


@frozen
class ChildSpec:
    name: str  # a stable path: S1.scale, storage, ...
    start: StartFn = field(repr=lambda f: getattr(f, "__qualname__", repr(f)))
    restart: Restart = Restart.PERMANENT
    shutdown_timeout_s: float = 5.0

    async def run(self, task_status: trio.TaskStatus[None]) -> None:
        await self.start(task_status=task_status)
