"""`fillfloor sim`: run a scenario on a whole simulated floor and write its events (docs/scenarios.md).

The run: start the simulated devices, register the scenario's unit, cylinders and operators in a
fresh database, start the real floor on the devices' addresses, then carry out the steps in
order, writing every event as it happens (the supervisor's from the bus, the simulator's ground
truth from the physics). People and devices act through the same paths as on a real floor: badges
and labels are bytes on the scanner's serial line, a cylinder is mass on the simulated scale, a
check comes in as a check terminal's message, a pause or restart as a console command.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import trio

from domain.checks import answered_in_full
from domain.events import EVENT_TYPES as FLOOR_EVENTS
from domain.events import FloorEvent, StationState
from domain.fill_guard import StationLearning
from domain.holds import Hold
from domain.messages import CheckPhase, CheckSubmitted, ConsoleOrder
from domain.models import DEFAULT_MODELS
from simulator.events import EventFile, Tee
from simulator.faults import Fault
from simulator.scenario import EVENT_TYPES, Scenario, Step
from simulator.scenario_platform import ScenarioPlatform, scenario_platform
from simulator.sim_floor import SimulatedFloor, SimulatedStationDevices, crash_wrapped, open_simulated_devices
from simulator.station_physics import DEFAULT_CAPACITY_KG, liquid_full_kg
from supervisor.floor import DeviceActors, Floor, StationParts
from supervisor.runtime import EventBus, StartFn
from supervisor.services import add_platform_sync
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
from supervisor.storage.database import Database
from supervisor.storage.repository import (
    load_holds,
    load_learning,
    set_unit,
    upsert_archives,
    upsert_operators,
)

__all__ = ["Attach", "UnsupportedStep", "run_scenario"]

# Runs beside the floor once it started (the live demo's console server, the soak's sampler):
# `await nursery.start(attach, floor, db, sync)` with the floor, its database and its platform sync
# (or None); it runs until the scenario ends.
Attach = Callable[..., Awaitable[None]]

# The floor's events the file has (docs/scenarios.md lists them; telemetry and console chatter
# such as live weights, logins and acknowledgements stay on the bus).
_WRITTEN = tuple(cls for type_, cls in FLOOR_EVENTS.items() if type_ in EVENT_TYPES)


class UnsupportedStep(Exception):
    """A valid step this build cannot carry out yet (named, so the run fails clearly, not silently)."""


def _remembered(
    db: Database, stations: list[str]
) -> tuple[dict[str, StationLearning], list[tuple[Hold, str]]]:
    """What each station learnt before, and the cylinders held (a database kept across runs)."""
    with db.reading() as conn:
        return load_learning(conn, stations), load_holds(conn)


def _register(db: Database, scenario: Scenario) -> None:
    with db.transaction() as conn:
        set_unit(conn, scenario.unit_code, scenario.short_name)
        upsert_archives(conn, scenario.cylinders)
        upsert_operators(conn, scenario.operators)


async def run_scenario(
    scenario: Scenario,
    events_path: Path,
    db_url: str | None,
    device_actors: DeviceActors,
    *,
    data_dir: Path | None = None,
    tee: Tee | None = None,
    attach: Attach | None = None,
    platform_db_url: str | None = None,
    stop_after_s: float | None = None,
) -> None:
    """Run the scenario to its end (exit 0 whatever the supervisor decided). The database is
    `db_url`, else SQLite in `data_dir`, else a fresh SQLite file in a temporary folder; the
    embedded platform's (`[platform]`) is `platform_db_url`, else a fresh SQLite file there.
    `stop_after_s` ends the script early, in the middle of the step under way (a wait, a sleep),
    then the floor settles and stops as at the end of a script (the soak run's duration)."""
    events = EventFile.open(events_path, tee)
    try:
        with tempfile.TemporaryDirectory(prefix="fillfloor-sim-db-") as tmp:
            where = data_dir or Path(tmp)
            db = await trio.to_thread.run_sync(lambda: open_database(db_url, where))
            try:
                await trio.to_thread.run_sync(_register, db, scenario)
                async with scenario_platform(scenario, events, platform_db_url, Path(tmp)) as platform:
                    await _run(scenario, events, db, device_actors, attach, platform, stop_after_s)
            finally:
                await trio.to_thread.run_sync(db.close)
    finally:
        events.close()


async def _run(scenario: Scenario, events: EventFile, db: Database, device_actors: DeviceActors,
               attach: Attach | None, platform: ScenarioPlatform | None,
               stop_after_s: float | None = None) -> None:  # fmt: skip
    bus = EventBus()
    feed = BusFeed(bus)
    async with open_simulated_devices(scenario) as sim, trio.open_nursery() as nursery:
        nursery.start_soon(feed.run, events)
        nursery.start_soon(_write_ground_truth, sim, events)
        learned, holds = await trio.to_thread.run_sync(_remembered, db, [s.id for s in scenario.stations])
        state = FloorState(scenario.unit_code, lambda: scenario.today, scenario.cylinders, scenario.operators,
                           holds=holds)  # fmt: skip
        config = sim.config(scenario, data_dir="")
        floor = Floor(config, db, state, bus, _with_faults(sim, device_actors), learned=learned, lang="zh")
        sync = add_platform_sync(floor, platform.sync_settings) if platform else None
        if platform is not None:
            platform.sync = sync
        await nursery.start(floor.run)
        await sim.scanners_connected(timeout_s=10)  # (a network scanner's first scan is not lost)
        if attach is not None:
            await nursery.start(attach, floor, db, sync)
        steps = StepRunner(scenario, floor, sim, bus, events, feed, db, platform)
        await steps.run(None if stop_after_s is None else trio.current_time() + stop_after_s)
        floor.close_valves()
        await trio.sleep(0.2)  # the closing events and last records reach the file and the writer
        await _drain(floor)
        nursery.cancel_scope.cancel()


async def _drain(floor: Floor) -> None:
    with trio.move_on_after(10):
        while floor.sink.backlog:  # noqa: ASYNC110 - the sink has no "empty" event to wait on
            await trio.sleep(0.05)


def _with_faults(sim: SimulatedFloor, device_actors: DeviceActors) -> DeviceActors:
    def build(parts: StationParts) -> dict[str, StartFn]:
        return crash_wrapped(device_actors(parts), sim.stations[parts.id].faults)

    return build


class BusFeed:
    """The floor's events to the file, in the order they were published."""

    def __init__(self, bus: EventBus) -> None:
        self.sub = bus.subscribe("event-file", capacity=1_000_000,
                                 accept=lambda e: isinstance(e.payload, _WRITTEN))  # fmt: skip

    def flush(self, events: EventFile) -> None:
        while (event := self.sub.receive_nowait_or_none()) is not None:
            events.write_event(event.payload)

    async def run(self, events: EventFile) -> None:
        async for event in self.sub:
            events.write_event(event.payload)
            self.flush(events)


async def _write_ground_truth(sim: SimulatedFloor, events: EventFile) -> None:
    assert sim.ground_truth is not None
    async for truth in sim.ground_truth.receive:
        events.write(truth.event_type, truth.fields())


class StepRunner:
    def __init__(self, scenario: Scenario, floor: Floor, sim: SimulatedFloor, bus: EventBus,
                 events: EventFile, feed: BusFeed, db: Database,
                 platform: ScenarioPlatform | None = None) -> None:  # fmt: skip
        self.scenario = scenario
        self.db = db
        self.platform = platform
        self.floor = floor
        self.sim = sim
        self.bus = bus
        self.events = events
        self.feed = feed
        self._nursery: trio.Nursery | None = None

    async def run(self, deadline: float | None = None) -> None:
        async with trio.open_nursery() as nursery:  # faults that last a while run in it
            self._nursery = nursery
            with trio.move_on_at(math.inf if deadline is None else deadline):
                for step in self.scenario.steps:
                    self._progress("scenario.step", step.index, step.do)
                    await self._do(step)
            await self._settle()
            self._progress("scenario.done", len(self.scenario.steps), "done")
            nursery.cancel_scope.cancel()

    async def _settle(self) -> None:
        """Let the floor act on the last steps (what a step sent is still in a station's inbox)."""
        with trio.move_on_after(5):
            while any(p.inbox.pending() for p in self.floor.stations.values()):  # noqa: ASYNC110
                await trio.sleep(0.02)
        await trio.sleep(0.2)

    def _progress(self, event_type: str, index: int, do: str) -> None:
        """A line of the script's progress, after every floor event published before it."""
        self.feed.flush(self.events)
        self.events.write(event_type, {"index": index, "do": do})

    def _capacity_kg(self, code: str) -> float:
        """What the physical cylinder holds liquid-full: by its archive's model, when it has one."""
        archive = next((c for c in self.scenario.cylinders if c.code == code), None)
        model = DEFAULT_MODELS.get(archive.model) if archive is not None else None
        return liquid_full_kg(float(model.water_volume_l)) if model is not None else DEFAULT_CAPACITY_KG

    async def _do(self, step: Step) -> None:
        a = step.args
        sd = self.sim.stations[step.station] if step.station else None
        parts = self.floor.stations[step.station] if step.station else None
        match step.do:
            case "login" | "logout":
                assert sd is not None
                await sd.scanner.send_text(a["operator"])
            case "scan":
                assert sd is not None
                await sd.scanner.send_text(a["text"])  # (with the scanner's terminator)
            case "place":
                assert sd is not None
                sd.devices.place(a["cylinder"], float(a["gross_kg"]), self._capacity_kg(a["cylinder"]))
            case "remove":
                assert sd is not None
                sd.devices.remove()
            case "precheck" | "postcheck":
                assert parts is not None
                phase = CheckPhase.PRE if step.do == "precheck" else CheckPhase.POST
                passed = a["result"] == "pass"
                # As a check terminal submits it: every item answered, the ones the step names as
                # named, so a result alone keeps its meaning (a pass: all checked and passed).
                items = answered_in_full(phase.value, passed, a.get("items", {}))
                parts.tell(CheckSubmitted(a["cylinder"], phase, passed, a["checker"], items,
                                          at=trio.current_time(), when=dt.datetime.now(dt.UTC)))  # fmt: skip
            case "wait":
                await self._wait(step)
            case "sleep":
                await trio.sleep(a["seconds"])
            case "fault":
                assert sd is not None
                await self._fault(sd, a["device"], a["kind"], a["seconds"])
            case "pause" | "resume":
                assert parts is not None
                parts.tell(ConsoleOrder(step.do, "scenario", trio.current_time()))
            case "restart":
                await self.floor.maintenance.restart(a["actor"], "scenario", "maintenance")
            case "platform" | "inspect" | "regulator" | "wait_sync" if self.platform is not None:
                self.feed.flush(self.events)  # what the floor did before, first in the file
                await self.platform.do(step, self.floor, self.db)
            case _:
                raise UnsupportedStep(f"step[{step.index}]: {step.do} is not supported")

    async def _wait(self, step: Step) -> None:
        what, timeout, station = step.args["for"], step.args["timeout_s"], step.station
        if what.startswith("state:"):
            wanted = what.removeprefix("state:")
            if await self._until_floor_event(StationState, station, timeout, wanted):
                return
        elif what in FLOOR_EVENTS:
            if await self._until_floor_event(FLOOR_EVENTS[what], station, timeout):
                return
        elif await self._until_written(what, station, timeout):
            return
        self._progress("scenario.timeout", step.index, step.do)

    async def _until_floor_event(self, kind: type[FloorEvent], station: str | None, timeout: float,
                                 state: str | None = None) -> bool:  # fmt: skip
        """Whether the floor publishes `kind` (for `station`; for a state, entering it) in time."""
        sub = self.bus.subscribe("scenario-wait", capacity=100_000,
                                 accept=lambda e: isinstance(e.payload, kind))  # fmt: skip
        try:
            parts = self.floor.stations[station] if station is not None else None
            if state is not None and parts is not None and parts.core.state == state:
                return True  # (it also holds if the station is already in that state)
            with trio.move_on_after(timeout):
                async for event in sub:
                    if getattr(event.payload, "station", None) not in (None, station):
                        continue
                    if state is None or getattr(event.payload, "state", None) == state:
                        return True
            return False
        finally:
            sub.close()

    async def _until_written(self, what: str, station: str | None, timeout: float) -> bool:
        """Whether the simulator's own ground truth (`sim.mass`, `platform.stored`, ...) says `what`
        (for `station`) in time: those lines go straight to the event file, not over the bus."""
        seen = trio.Event()

        def watch(type_: str, line: Mapping[str, Any]) -> None:
            if type_ == what and line.get("station") in (None, station):
                seen.set()

        self.events.watch(watch)
        try:
            with trio.move_on_after(timeout):
                await seen.wait()
            return seen.is_set()
        finally:
            self.events.unwatch(watch)

    async def _fault(self, sd: SimulatedStationDevices, device: str, kind: str, seconds: float) -> None:
        sd.faults.inject(Fault(device, kind, seconds))  # the devices' and the crash wrapper's board
        if device == "scanner" and kind != "crash":
            # Scanner faults act on the simulated scanner itself, for their duration, meanwhile.
            assert self._nursery is not None
            self._nursery.start_soon(sd.scanner.fault, kind, seconds)
