"""The channel between the floor and a process of its services (the console server, the platform
sync): lines of UTF-8 over a pipe, each a kind letter, a tab and the rest. What the kinds are is
each service's (supervisor/console/bridge.py, platform_client/process.py); JSON never holds a raw
newline, so a JSON text is a line as it is.

The service's process reads its settings from the first line and ends when the floor closes the
pipe (`PipeClosed`): it never outlives the floor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable

import trio

__all__ = [
    "SERVICE_NICENESS",
    "LineReader",
    "LineWriter",
    "PipeClosed",
    "ended_by",
    "run_service_process",
    "stdio_pipe",
]

MAX_LINE = 64 << 20  # a snapshot of a large floor is a few MB; anything past this is not ours


class PipeClosed(Exception):
    """The other side is gone (its end of the pipe closed, or it wrote what is not a line)."""


class LineReader:
    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._start = 0

    async def line(self) -> str:
        while True:
            end = self._buffer.find(b"\n", self._start)
            if end >= 0:
                line = bytes(self._buffer[self._start : end])
                self._start = end + 1
                if self._start > 65536:  # (drop what was read, now and then, not per line)
                    del self._buffer[: self._start]
                    self._start = 0
                return line.decode("utf-8")
            if len(self._buffer) - self._start > MAX_LINE:
                raise PipeClosed("a line past the limit")
            data = await self._stream.receive_some(1 << 16)
            if not data:
                raise PipeClosed("the other side closed the pipe")
            self._buffer += data


class LineWriter:
    """Lines from several tasks, each written whole (one writer at a time on the pipe)."""

    def __init__(self, stream: trio.abc.SendStream) -> None:
        self._stream = stream
        self._lock = trio.Lock()

    async def send(self, text: str) -> None:
        async with self._lock:
            try:
                await self._stream.send_all(text.encode("utf-8"))
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise PipeClosed(str(exc)) from None


def ended_by(exc: BaseException, *kinds: type[BaseException]) -> bool:
    """Whether `exc` is of `kinds`, or a group of nothing else (trio's nurseries group them): how a
    service's process tells "the floor closed the pipe" from a failure of its own."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(kinds)[1] is None
    return isinstance(exc, kinds)


def stdio_pipe() -> tuple[LineReader, LineWriter]:
    """A service process's end of its pipe: its stdin and stdout (nothing else may print there)."""
    reader = LineReader(trio.lowlevel.FdStream(os.dup(sys.stdin.fileno())))
    writer = LineWriter(trio.lowlevel.FdStream(os.dup(sys.stdout.fileno())))
    return reader, writer


# Between the floor (0) and the lowest (19): below the floor, still above batch jobs at 19.
SERVICE_NICENESS = 10


def run_service_process(serve: Callable[[], Awaitable[None]], name: str,
                        failures: tuple[type[BaseException], ...] = (),
                        niceness: int = 0) -> int:  # fmt: skip
    """A service process's main: logs on stderr (shared with the floor's), 0 once the floor closed
    the pipe, 2 for one of its `failures` (already said on the pipe), anything else raised.

    `niceness` lowers its CPU priority below the floor's (the console: `SERVICE_NICENESS`): when the
    machine is short of CPU, as under a console flood, the kernel runs the floor's polls and
    decisions first. The platform sync keeps the floor's priority: lowered, a busy machine starved it
    (a 300-record backlog not drained in 2 s beside one busy loop)."""
    if niceness:
        with contextlib.suppress(OSError):  # (a platform without nice, or a sandbox refusing it)
            os.nice(niceness)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"fillfloor {name}: %(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        trio.run(serve)
    except BaseException as exc:
        if ended_by(exc, PipeClosed, KeyboardInterrupt):
            return 0  # the floor is gone: so is its service
        if failures and ended_by(exc, *failures):
            return 2
        raise
    return 0
