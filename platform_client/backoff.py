"""When to ask the platform again after a failure: exponential backoff with jitter, and Retry-After.

A floor that cannot reach the platform must not hammer it, and a city's floors coming back together
after an outage must not retry in lockstep: the floor's one backoff (`domain.backoff`), doubling per
failure up to a cap with equal jitter (never less than half the step, so it still backs off). A
server's `Retry-After` (RFC 9110 §10.2.3: seconds, or an HTTP date) is honoured as a lower bound.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random

from domain.backoff import Backoff

__all__ = ["MAX_RETRY_AFTER_S", "RetryBackoff", "parse_retry_after"]

# A Retry-After beyond this is a misconfigured server, not a plan: the floor still asks hourly.
MAX_RETRY_AFTER_S = 3600.0


class RetryBackoff:
    """The failures in a row of one loop against the platform, and the waits they earn."""

    def __init__(self, backoff: Backoff, rng: random.Random | None = None) -> None:
        self.backoff = backoff
        self.failures = 0  # consecutive
        self._rng = rng or random.Random()

    def failed(self, retry_after_s: float | None = None) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        delay = self.backoff.delay(self.failures, self._rng)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
        return delay

    def succeeded(self) -> None:
        self.failures = 0


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, at most `MAX_RETRY_AFTER_S`; None when absent or
    unreadable. (Every wait the sync takes from the platform goes through here, so none is forever.)"""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # ("²" is a digit to isdigit, not to float)
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(MAX_RETRY_AFTER_S, max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds()))
