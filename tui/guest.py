"""trio in Textual's asyncio loop, by trio's guest mode (docs/architecture.md, "Textual with trio").

The console's connection is trio code (trio-websocket); Textual runs asyncio. Guest mode runs
trio's scheduler as callbacks on Textual's loop, on Textual's thread, so trio code may touch the
model the screens read without locks. The trio run must end before the asyncio loop stops:
`TrioGuest.stop()` cancels it and waits; a trio crash is kept in `error` (and shown), never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import trio
from outcome import Outcome

__all__ = ["TrioGuest"]


class TrioGuest:
    def __init__(self, main: Callable[[], Awaitable[object]]) -> None:
        self._main = main
        self._done: asyncio.Future[Outcome[object]] | None = None
        self._cancel_scope: trio.CancelScope | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        """Start trio in the running asyncio loop (call from Textual, e.g. in `on_mount`)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Outcome[object]] = loop.create_future()
        self._done = done

        def finished(outcome: Outcome[object]) -> None:
            error = getattr(outcome, "error", None)
            if error is not None:
                self.error = error
            if not done.done():
                done.set_result(outcome)

        trio.lowlevel.start_guest_run(
            self._run,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=finished,
            host_uses_signal_set_wakeup_fd=True,
            strict_exception_groups=True,
        )

    async def _run(self) -> object:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._cancel_scope = scope
            return await self._main()
        return None

    async def stop(self) -> None:
        """Cancel the trio run and wait for it to end."""
        if self._done is None:
            return
        if self._token is not None and self._cancel_scope is not None:
            scope = self._cancel_scope
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(scope.cancel)
        await self._done
