"""One station's weighing indicator and permit valve as real Modbus devices (TCP or RTU over a pty).

The single-station case of `simulator.device_host.DeviceHost`, with the default register maps
(docs/devices.md): on TCP the scale and the valve each have their own server on a free loopback
port and answer any unit id; on RTU they share one bus as unit 1 (scale) and unit 2 (valve), whose
tty path is `serial_port`. The scenario runner, the tests and the benchmarks use it; `fillfloor
simulate-devices` builds its `DeviceHost` from a floor config instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Literal

import trio
from pymodbus.simulator import SimDevice

from actors.registers import register_map
from simulator.device_host import DeviceHost, DeviceSite, HostedStation, RtuEndpoint, TcpEndpoint
from simulator.faults import Fault, FaultBoard
from simulator.register_faces import sim_device
from simulator.station_physics import DEFAULT_CAPACITY_KG, SimulatedStation

__all__ = ["SCALE_UNIT", "VALVE_UNIT", "StationDevices", "open_station_devices"]

SCALE_UNIT = 1
VALVE_UNIT = 2

Protocol = Literal["tcp", "rtu"]


def _scale_device(unit: int) -> SimDevice:
    """A scale's registers with the default map, for benchmarks that serve them without physics."""
    return sim_device(unit, register_map("scale"))


class StationDevices:
    """The scale and valve of one `SimulatedStation` on Modbus TCP (two servers) or RTU (one bus)."""

    def __init__(
        self,
        station: SimulatedStation,
        protocol: Protocol = "tcp",
        *,
        faults: FaultBoard | None = None,
        tick_hz: float = 200.0,
        host: str = "127.0.0.1",
        baudrate: int = 19200,
        seed: int = 0,
    ) -> None:
        if protocol not in ("tcp", "rtu"):
            raise ValueError(f"protocol must be 'tcp' or 'rtu', not {protocol!r}")
        self.station = station
        self.protocol = protocol
        self.faults = faults if faults is not None else FaultBoard()
        if protocol == "tcp":
            scale = DeviceSite(TcpEndpoint(host, 0), 0, register_map("scale"))
            valve = DeviceSite(TcpEndpoint(host, 0), 0, register_map("valve"))
        else:
            bus = RtuEndpoint(f"{station.station_id}-bus", baudrate)
            scale = DeviceSite(bus, SCALE_UNIT, register_map("scale"))
            valve = DeviceSite(bus, VALVE_UNIT, register_map("valve"))
        hosted = HostedStation(station, scale, valve, self.faults)
        self._host = DeviceHost([hosted], tick_hz=tick_hz, seed=seed)
        self.scale_address: tuple[str, int] | None = None
        self.valve_address: tuple[str, int] | None = None
        self.serial_port: str | None = None

    @property
    def ticks(self) -> int:
        return self._host.ticks

    # ------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> None:
        """Start the servers in their own thread; return once they listen (blocking, briefly)."""
        self._host.start(timeout)
        sid = self.station.station_id
        scale, valve = self._host.address(sid, "scale"), self._host.address(sid, "valve")
        if isinstance(scale, str):
            self.serial_port = scale
        else:
            assert not isinstance(valve, str)
            self.scale_address, self.valve_address = scale, valve

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the servers and the thread (blocking, briefly). Idempotent."""
        self._host.stop(timeout)

    def __enter__(self) -> StationDevices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------- commands from any thread, never waiting
    def call(self, fn: Callable[[SimulatedStation], object]) -> None:
        """Run `fn(station)` in the simulator's loop, between two ticks."""
        self._host.call(self.station.station_id, fn)

    def place(self, cylinder: str, gross_kg: float, capacity_kg: float = DEFAULT_CAPACITY_KG) -> None:
        self.call(lambda st: st.place(cylinder, gross_kg, capacity_kg))

    def remove(self) -> None:
        self.call(lambda st: st.remove())

    def inject(self, fault: Fault) -> None:
        """Start a device fault; the next tick applies it."""
        self.faults.inject(fault)


@contextlib.asynccontextmanager
async def open_station_devices(
    station: SimulatedStation, protocol: Protocol = "tcp", **kwargs: object
) -> AsyncIterator[StationDevices]:
    """Run a station's devices for the duration of the block, starting and stopping off the trio loop."""
    devices = StationDevices(station, protocol, **kwargs)  # type: ignore[arg-type]
    await trio.to_thread.run_sync(devices.start)
    try:
        yield devices
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(devices.stop)
