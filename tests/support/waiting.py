"""Waiting for a condition nothing signals (a counter of another task, a row in a database, a
device in another thread): polled, and bounded generously, so that a busy machine (CI shares its
cores) is only slower and a condition that never comes fails the test."""

from __future__ import annotations

import time
from collections.abc import Callable

import trio

__all__ = ["until", "wait_until"]

_EVERY_S = 0.02


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Return once `condition()` holds; `trio.TooSlowError` after `timeout_s`."""
    with trio.fail_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - nothing to wait on: polled
            await trio.sleep(_EVERY_S)


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """`until` for a test that is not async (a thread of its own: it may block)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout_s} s")
        time.sleep(_EVERY_S)
