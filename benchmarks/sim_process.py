"""Simulated devices in a process of their own, so the supervisor's process is measured alone.

`SimProcess(serve, *args)` starts `serve(control, *args)` in a fresh (spawned) Python process. The
child starts its devices, then calls `serve_control(control, info)`: `info` (addresses, a port
path) goes back to the parent, and the child answers CPU-time questions until told to stop. The
parent reads `info`, asks `cpu_s()` at the start and end of a measurement window, and stops the
child when the `with` block ends.

On this 2-core machine the child and the supervisor each get a core at best; the simulators are
asyncio (pymodbus) and share their process's GIL, as they would share no CPU with a real plant.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["SimProcess", "cpu_s", "serve_control"]


def cpu_s() -> float:
    """This process's CPU time so far (user + system, all threads), in seconds."""
    t = os.times()
    return t.user + t.system


def serve_control(control: Connection, info: object, stats: Callable[[], object] | None = None) -> None:
    """In the child, once its devices run: report `info`, then answer until told to stop
    ("cpu": `cpu_s()`; "stats": whatever `stats()` gives)."""
    control.send(("ready", info))
    while True:
        what = control.recv()
        if what == "cpu":
            control.send(cpu_s())
        elif what == "stats":
            control.send(stats() if stats is not None else None)
        else:
            return


def _entry(serve: Callable[..., None], control: Connection, args: tuple[Any, ...]) -> None:
    # pymodbus logs every connection dropped at shutdown: not what a benchmark's reader needs.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    try:
        serve(control, *args)
    except BaseException as exc:  # reported to the parent, which would otherwise wait for "ready"
        control.send(("error", repr(exc)))
        raise


class SimProcess:
    def __init__(self, serve: Callable[..., None], *args: Any, start_timeout_s: float = 120.0) -> None:
        self._serve = serve
        self._args = args
        self._timeout = start_timeout_s
        self._control: Connection | None = None
        self._process: mp.process.BaseProcess | None = None
        self.info: Any = None

    def __enter__(self) -> SimProcess:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._control = parent
        self._process = ctx.Process(target=_entry, args=(self._serve, child, self._args), daemon=True)
        self._process.start()
        deadline = time.monotonic() + self._timeout
        while not parent.poll(0.2):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("the simulator process did not start")
        try:
            kind, self.info = parent.recv()
        except EOFError:
            kind, self.info = "error", "it exited"
        if kind != "ready":
            self.__exit__()
            raise RuntimeError(f"the simulator process failed: {self.info}")
        return self

    def cpu_s(self) -> float:
        return float(self.ask("cpu"))

    def ask(self, what: str) -> Any:
        assert self._control is not None
        self._control.send(what)
        return self._control.recv()

    def __exit__(self, *exc: object) -> None:
        if self._control is not None:
            with contextlib.suppress(OSError):  # the child is gone already
                self._control.send("stop")
            self._control.close()
            self._control = None
        if self._process is not None:
            self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None
