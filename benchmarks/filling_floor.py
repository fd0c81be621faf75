"""A floor at work, for the benchmarks that measure its control path (console_latency,
console_flood, sync_isolation): a real `Floor` (SQLite writer, record sink, supervisors, a
coordinator per station) on in-process scales and valves polled at 20 Hz, every station filling
cylinder after cylinder (badge, pre-fill check, label, fill, post-fill check, lifted off), and the
decision latency of each weight sample: from its creation by the scale actor to the end of the
core's decision on it (`core.handle`), in milliseconds.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import trio

from domain.checks import answered_in_full
from domain.messages import CheckPhase, CheckSubmitted, Scanned, StationInput, WeightSample
from simulator.in_process_floor import running_floor
from simulator.model_rig import UNIT
from simulator.station_physics import SimulatedStation
from supervisor.floor import Floor, StationParts
from supervisor.storage.database import Database
from supervisor.storage.users import add_user

__all__ = ["FillingFloor", "filling_floor", "viewer_token"]

_ALL_OK = {phase: answered_in_full(phase.value, True, {}) for phase in CheckPhase}


@attrs.define
class FillingFloor:
    floor: Floor
    db: Database
    nursery: trio.Nursery
    latencies: list[float] = attrs.field(factory=list)

    def time_decisions(self) -> None:
        """From now on, each sample's decision latency is appended to `latencies`."""
        for parts in self.floor.stations.values():
            _timed(parts, self.latencies)


@contextlib.asynccontextmanager
async def filling_floor(stations: int) -> AsyncIterator[FillingFloor]:
    """The floor with `stations` stations, each filling (the nursery is the caller's too)."""
    ids = tuple(f"S{i + 1}" for i in range(stations))
    codes = tuple(_code(i + 1) for i in range(stations))
    with tempfile.TemporaryDirectory(prefix="fillfloor-bench-") as tmp:
        async with (
            running_floor(Path(tmp), ids, codes) as (floor, db, physics),
            trio.open_nursery() as nursery,
        ):
            for sid, code in zip(ids, codes, strict=True):
                nursery.start_soon(_operate, floor.stations[sid], physics[sid], code)
            yield FillingFloor(floor, db, nursery)
            nursery.cancel_scope.cancel()


async def viewer_token(db: Database) -> str:
    """A console user for the benchmark's consoles (or its attacker): its token."""

    def add() -> str:
        with db.transaction() as conn:
            return add_user(conn, "bench", "viewer")

    return await trio.to_thread.run_sync(add)


def _code(i: int) -> str:
    return f"{UNIT}{i:07d}"


def _timed(parts: StationParts, latencies: list[float]) -> None:
    core = parts.core
    handle = core.handle

    def timed(msg: StationInput) -> Any:
        effects = handle(msg)
        if isinstance(msg, WeightSample):
            latencies.append((trio.current_time() - msg.at) * 1000)
        return effects

    core.handle = timed  # type: ignore[method-assign]


async def _operate(parts: StationParts, sim: SimulatedStation, code: str) -> None:
    """An operator and a checker at one station, cylinder after cylinder."""
    parts.tell(Scanned("OP01", badge=True, at=trio.current_time()))
    while True:
        parts.tell(
            CheckSubmitted(
                code, CheckPhase.PRE, True, "CK01", _ALL_OK[CheckPhase.PRE], at=trio.current_time()
            )
        )
        sim.place(code, 15.5)
        await trio.sleep(0.3)
        parts.tell(Scanned(code, badge=False, at=trio.current_time()))
        with trio.move_on_after(20):
            while parts.core.state != "awaiting_postcheck":  # noqa: ASYNC110 - the core has no event
                await trio.sleep(0.1)
        parts.tell(
            CheckSubmitted(
                code, CheckPhase.POST, True, "CK01", _ALL_OK[CheckPhase.POST], at=trio.current_time()
            )
        )
        await trio.sleep(0.5)
        sim.remove()
        await trio.sleep(0.5)
