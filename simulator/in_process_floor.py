"""A real `Floor` (storage, sink, supervisors, coordinators) on in-process device actors, for the
console's tests and benchmarks.

The device actors here poll the station physics directly instead of over Modbus: the console and
the floor assembly are under test, not the protocols (those have their own tests, and `fillfloor
sim` puts everything together over real sockets and ptys).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path

import trio

from actors.config import DeviceConfig, ScannerConfig
from domain.labels import LabelRule
from domain.messages import IndicatorFillState, ValveStatus, WeightSample
from domain.settings import DomainSettings
from simulator.model_rig import GOOD, OPERATOR, TODAY, UNIT, archive
from simulator.station_physics import SimulatedStation
from supervisor.config import FloorConfig, StationConfig, UnitConfig
from supervisor.floor import Floor, StationParts
from supervisor.runtime import EventBus, StartFn
from supervisor.station.floor import FloorState
from supervisor.storage import Database, open_database


def in_process_devices(physics: dict[str, SimulatedStation]) -> object:
    def build(parts: StationParts) -> Mapping[str, StartFn]:
        sim = physics[parts.id]

        async def valve(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            parts.gate.on_revoke(lambda _cause: sim.write_permit(False))
            task_status.started()
            while True:
                sim.write_permit(parts.gate.allows(parts.permit.peek()))
                v = sim.valve_view()
                parts.tell(ValveStatus(v.permit, v.feedback_open, trio.current_time()))
                await trio.sleep(0.05)

        async def scale(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            while True:
                await trio.sleep(0.05)
                sim.tick(0.05)
                view = sim.scale_view()
                parts.tell(WeightSample(Decimal(view.gross_g) / 1000, view.stable, trio.current_time(),
                                        fill_state=IndicatorFillState(view.fill_state)))  # fmt: skip

        return {"valve": valve, "scale": scale}

    return build


@contextlib.asynccontextmanager
async def running_floor(
    tmp_path: Path, stations: tuple[str, ...] = ("S1",), cylinders: tuple[str, ...] = (GOOD,)
) -> AsyncIterator[tuple[Floor, Database, dict[str, SimulatedStation]]]:
    db = await trio.to_thread.run_sync(open_database, f"sqlite:///{tmp_path / 'floor.db'}")
    config = FloorConfig(
        unit=UnitConfig(UNIT, "衡阳燃气"), label=LabelRule(UNIT), rules=DomainSettings(),
        stations=tuple(StationConfig(s, DeviceConfig(), DeviceConfig(), ScannerConfig(), cutoff="host")
                       for s in stations),
    )  # fmt: skip
    state = FloorState(UNIT, lambda: TODAY, [archive(c) for c in cylinders], [OPERATOR])
    physics = {s: SimulatedStation(s, flow_kg_s=2.0, valve_delay_ms=150, cutoff="host", watchdog_ms=0)
               for s in stations}  # fmt: skip
    floor = Floor(config, db, state, EventBus(), in_process_devices(physics))  # type: ignore[arg-type]
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(floor.run)
            yield floor, db, physics
            floor.close_valves()
            nursery.cancel_scope.cancel()
    finally:
        await trio.to_thread.run_sync(db.close)
