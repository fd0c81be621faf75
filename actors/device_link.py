"""What the scale and valve actors share: telling the coordinator, and counting a link's health.

A device is *lost* after `lost_after` failed polls in a row (timeouts, exception responses and
malformed frames are counted apart, for maintenance), and found again at the first good poll.
While lost the actor backs off (the floor's one backoff, `domain.backoff`: from 0.1 s doubling to
2 s, jittered) instead of hammering a dead line.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import trio

from actors.link import ModbusError, ModbusExceptionResponse, ModbusMalformed, ModbusTimeout
from domain.backoff import Backoff
from domain.messages import DeviceLink, StationInput
from supervisor.runtime.mailbox import MailboxFull

__all__ = ["LOST_BACKOFF", "LinkHealth", "Teller"]

# Polling a lost device: from 0.1 s, at most 2 s apart (it is found again within 2 s of its return).
LOST_BACKOFF = Backoff(initial_s=0.1, max_s=2.0)


class Teller:
    """Hands messages to the coordinator without ever waiting; counts what a stuck inbox refused."""

    def __init__(self, tell: Callable[[StationInput], None]) -> None:
        self._tell = tell
        self.dropped = 0

    def __call__(self, message: StationInput) -> None:
        try:
            self._tell(message)
        except MailboxFull:
            self.dropped += 1  # the coordinator is stuck: its supervisor and the valve watchdog act


class LinkHealth:
    def __init__(self, device: str, tell: Teller, lost_after: int, backoff: Backoff = LOST_BACKOFF) -> None:
        self.device = device
        self._tell = tell
        self.lost_after = lost_after
        self.backoff = backoff
        self._rng = random.Random()
        self.in_a_row = 0
        self.lost = False
        self.answered = False  # any answer since start
        self.errors: Counter[str] = Counter()  # timeout, exception, malformed, closed

    @property
    def state(self) -> str:
        """connecting (no answer yet since start), up, or lost."""
        return "lost" if self.lost else "up" if self.answered else "connecting"

    def ok(self) -> None:
        self.answered = True
        self.in_a_row = 0
        if self.lost:
            self.lost = False
            self._tell(DeviceLink(self.device, True, trio.current_time()))

    def failed(self, exc: ModbusError) -> None:
        kind = (
            "timeout" if isinstance(exc, ModbusTimeout)
            else "exception" if isinstance(exc, ModbusExceptionResponse)
            else "malformed" if isinstance(exc, ModbusMalformed)
            else "closed"
        )  # fmt: skip
        self.errors[kind] += 1
        self.in_a_row += 1
        if not self.lost and self.in_a_row >= self.lost_after:
            self.lost = True
            self._tell(DeviceLink(self.device, False, trio.current_time(), f"{kind}: {exc}"))

    def backoff_s(self) -> float:
        """How long to wait before the next try while lost (0 while not)."""
        if not self.lost:
            return 0.0
        return self.backoff.delay(self.in_a_row - self.lost_after + 1, self._rng)
