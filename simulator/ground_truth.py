"""Ground truth from the simulated devices: what the valve and the mass on the scale really did.

The physics model calls a sink with `SimValve` (the physical valve opened or closed) and `SimMass`
(the mass on the scale once it settled after a valve close). The model runs in the simulator's own
thread; `TrioGroundTruth` carries those events into a trio run without blocking either side, so the
scenario runner can write them to the event file (docs/scenarios.md: `sim.valve`, `sim.mass`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import trio
from attrs import frozen

__all__ = ["GroundTruthEvent", "GroundTruthSink", "SimMass", "SimValve", "TrioGroundTruth"]


@frozen
class SimValve:
    """The physical valve of `station` opened (`open`) or closed, at model time `t` (seconds)."""

    station: str
    open: bool
    t: float

    event_type = "sim.valve"

    def fields(self) -> dict[str, Any]:
        return {"station": self.station, "open": self.open}


@frozen
class SimMass:
    """The settled gross mass of `cylinder` after a valve close (`cylinder` None: nothing was on)."""

    station: str
    cylinder: str | None
    gross_kg: float
    t: float

    event_type = "sim.mass"

    def fields(self) -> dict[str, Any]:
        return {"station": self.station, "cylinder": self.cylinder, "gross_kg": self.gross_kg}


GroundTruthEvent = SimValve | SimMass
GroundTruthSink = Callable[[GroundTruthEvent], None]


class TrioGroundTruth:
    """A sink callable from any thread that delivers events, in order, to a trio receive channel.

    Create it inside the trio run (it captures the run's token). Ground truth is never dropped: the
    channel is unbounded, and the simulator thread never waits for the trio side.
    """

    def __init__(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._send, self.receive = trio.open_memory_channel[GroundTruthEvent](math.inf)

    def __call__(self, event: GroundTruthEvent) -> None:
        # If the trio run ended before the simulator stopped, nobody is left to tell.
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._deliver, event)

    def _deliver(self, event: GroundTruthEvent) -> None:
        # The reader has gone away: the run is shutting down.
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            self._send.send_nowait(event)

    def close(self) -> None:
        """Close the sending side (from the trio thread) so `async for` over `receive` ends."""
        self._send.close()
