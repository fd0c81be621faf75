"""A scenario's floor: simulated devices on real sockets and ptys, the real floor on top of them.

For each scenario station: the station physics, its scale and valve as Modbus devices (TCP on free
loopback ports, or RTU over a pty pair) and its scanner on a pty pair (with a stable link, as
udev's /dev/serial/by-id names are, so the actor reopens it after a re-plug) or, with
`scanner = "tcp"`, as a network scanner listening on a free loopback port. Then the floor's
configuration is written for those addresses, exactly as a plant's would be for its hardware,
and the real `Floor` runs on it with the real device actors.

Crash faults are the one thing put around the real actors: a device actor whose device has an
active `crash` fault raises at start and while it runs (docs/scenarios.md, "Faults").
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import trio
from attrs import define, field

from actors.config import DeviceConfig, ScannerConfig
from domain.fill_settings import FillSettings
from domain.labels import LabelRule
from domain.settings import DomainSettings
from simulator.faults import FaultBoard
from simulator.ground_truth import TrioGroundTruth
from simulator.modbus_devices import SCALE_UNIT, VALVE_UNIT, StationDevices, open_station_devices
from simulator.scanner_sim import PtyScanner, TcpScanner
from simulator.scenario import Scenario, SimStation
from simulator.station_physics import SimulatedStation
from supervisor.config import FloorConfig, StationConfig, UnitConfig
from supervisor.runtime import StartFn

__all__ = ["SimulatedFloor", "SimulatedStationDevices", "crash_wrapped", "open_simulated_devices"]


_TICK_HZ = 25.0


class DeviceCrash(Exception):
    """A `crash` fault: the device actor raises (docs/scenarios.md)."""


@define
class SimulatedStationDevices:
    spec: SimStation
    physics: SimulatedStation
    devices: StationDevices
    scanner: PtyScanner | TcpScanner
    faults: FaultBoard


@define
class SimulatedFloor:
    stations: dict[str, SimulatedStationDevices] = field(factory=dict)
    ground_truth: TrioGroundTruth | None = None

    async def scanners_connected(self, timeout_s: float) -> None:
        """Wait until the floor is connected to every network scanner (a network scanner sends a
        scan to whoever is connected at that moment: one read before the floor connects is lost,
        as on a plant; a script's first login must not be)."""
        with trio.move_on_after(timeout_s):  # (past it: the actor's own alarm says why)
            for sd in self.stations.values():
                if isinstance(sd.scanner, TcpScanner):
                    await sd.scanner.connected.wait()

    def config(self, scenario: Scenario, data_dir: str) -> FloorConfig:
        """The floor's configuration for these devices, as a plant's file would give it."""
        stations = []
        for sid, sd in self.stations.items():
            dev = sd.devices
            if dev.protocol == "tcp":
                assert dev.scale_address is not None
                assert dev.valve_address is not None
                scale = DeviceConfig(protocol="tcp", host=dev.scale_address[0], port=dev.scale_address[1],
                                     unit_id=SCALE_UNIT)  # fmt: skip
                valve = DeviceConfig(protocol="tcp", host=dev.valve_address[0], port=dev.valve_address[1],
                                     unit_id=VALVE_UNIT)  # fmt: skip
            else:
                port = dev.serial_port or ""
                scale = DeviceConfig(protocol="rtu", serial_port=port, unit_id=SCALE_UNIT)
                valve = DeviceConfig(protocol="rtu", serial_port=port, unit_id=VALVE_UNIT)
            badges = _badge_pattern(scenario)
            if isinstance(sd.scanner, TcpScanner):
                scanner = ScannerConfig(
                    kind="tcp", host="127.0.0.1", port=sd.scanner.port, badge_pattern=badges
                )
            else:
                scanner = ScannerConfig(kind="serial", serial_port=sd.scanner.path, badge_pattern=badges)
            stations.append(StationConfig(id=sid, scale=scale, valve=valve, scanner=scanner,
                                          cutoff=sd.spec.cutoff, fill=FillSettings()))  # fmt: skip
        return FloorConfig(
            unit=UnitConfig(scenario.unit_code, scenario.short_name),
            label=LabelRule(scenario.unit_code, pattern=scenario.label_pattern),
            rules=DomainSettings(),
            stations=tuple(stations),
            data_dir=data_dir,
        )


@contextlib.asynccontextmanager
async def open_simulated_devices(scenario: Scenario) -> AsyncIterator[SimulatedFloor]:
    """Start every station's simulated devices; stop them all on the way out."""
    floor = SimulatedFloor(ground_truth=TrioGroundTruth())
    with tempfile.TemporaryDirectory(prefix="fillfloor-sim-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            nursery = await stack.enter_async_context(trio.open_nursery())  # the network scanners
            stack.callback(nursery.cancel_scope.cancel)  # (runs first, so the nursery can end)
            for i, spec in enumerate(scenario.stations):
                physics = SimulatedStation(
                    spec.id, flow_kg_s=spec.flow_kg_s, valve_delay_ms=spec.valve_delay_ms,
                    noise_g=spec.scale_noise_g, cutoff=spec.cutoff, seed=i, on_event=floor.ground_truth,
                )  # fmt: skip
                faults = FaultBoard()  # (real time: the simulated devices run in real time)
                # 25 ticks a second: every read and write of the floor brings the model up to its
                # moment anyway; ticks only carry what nobody reads (measured: at 100 a scenario's
                # simulators took a third of its CPU, and CI's shared cores starved the floor).
                devices = await stack.enter_async_context(
                    open_station_devices(physics, spec.protocol, faults=faults, seed=i, tick_hz=_TICK_HZ)  # type: ignore[arg-type]
                )
                scanner: PtyScanner | TcpScanner
                if spec.scanner == "tcp":
                    scanner = TcpScanner(seed=i)
                    await nursery.start(scanner.run)
                else:
                    scanner = PtyScanner(link_path=Path(tmp) / f"scanner-{spec.id}", seed=i)
                    stack.callback(scanner.close)
                sd = SimulatedStationDevices(spec, physics, devices, scanner, faults)
                floor.stations[spec.id] = sd
            yield floor


def _badge_pattern(scenario: Scenario) -> str:
    """Badges are what the scenario logs in with (also unknown ones), besides the default rule."""
    badges = {o.id for o in scenario.operators}
    badges |= {str(s.args["operator"]) for s in scenario.steps if s.do in ("login", "logout")}
    return "|".join([ScannerConfig().badge_pattern, *(re.escape(b) for b in sorted(badges))])


def wrap_crash(device: str, faults: FaultBoard, start: StartFn) -> StartFn:
    """The real actor, made to raise while its device has an active `crash` fault."""

    async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        if faults.crashing(device):
            raise DeviceCrash(f"{device} actor: simulated crash")
        async with trio.open_nursery() as nursery:
            await nursery.start(start)
            task_status.started()
            # The fault board is shared with the simulator's thread: polled, there is no event to wait on.
            while not faults.crashing(device):  # noqa: ASYNC110
                await trio.sleep(0.05)
            raise DeviceCrash(f"{device} actor: simulated crash")

    run.__wrapped__ = start  # type: ignore[attr-defined]  # (the actor's link, read through it: F4)
    return run


def crash_wrapped(actors: Mapping[str, StartFn], faults: FaultBoard) -> dict[str, StartFn]:
    return {name: wrap_crash(name, faults, start) for name, start in actors.items()}
