"""The simulated devices of a floor config, at the config's own addresses (`fillfloor simulate-devices`).

For commissioning before the hardware arrives: every station's weighing indicator and permit valve
answer where `fillfloor.toml` says the floor will look for them, with the register maps it says
(overrides included), and every scanner is where the floor will open or connect to it:
- Modbus TCP: a listener on the configured host:port, serving each configured unit id (several
  devices may share one host:port under different unit ids);
- Modbus RTU: one simulated RS-485 bus a serial port, serving every unit id configured on it; the
  configured path becomes a symlink to the bus's pty (see `simulator.pty_links`);
- a serial scanner: a pty, its slave linked at the configured path; a TCP scanner: a listener at
  the configured host:port (the floor connects to a scanner in server mode).
Nothing is started before every path and address of the config has been checked; what cannot be
served raises `BadInput` naming the device and the address (exit status 2 at the CLI).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import trio
from attrs import define, field, frozen

from actors.config import DeviceConfig
from actors.registers import register_map
from simulator.device_host import DeviceHost, DeviceSite, HostedStation, ListenError, RtuEndpoint, TcpEndpoint
from simulator.ground_truth import GroundTruthSink
from simulator.pty_links import claim_link, point_link, remove_link
from simulator.scanner_sim import PtyScanner, TcpScanner
from simulator.station_physics import DEFAULT_CAPACITY_KG, SimulatedStation
from supervisor.config import FloorConfig, StationConfig
from supervisor.errors import BadInput

__all__ = ["ConfigDevices", "ListingRow", "PhysicsSettings", "open_config_devices"]


@frozen
class PhysicsSettings:
    """How the simulated stations behave (the config says where devices are, not how gas flows)."""

    flow_kg_s: float = 1.0
    valve_delay_ms: float = 150.0
    noise_g: float = 2.0
    tick_hz: float = 100.0

    def __attrs_post_init__(self) -> None:
        if not self.flow_kg_s > 0 or self.valve_delay_ms < 0 or self.noise_g < 0 or not self.tick_hz > 0:
            raise ValueError("flow and tick rate must be > 0, valve delay and noise ≥ 0")


@frozen
class ListingRow:
    """One line of the table printed at start: what listens where."""

    station: str
    device: str
    protocol: str
    where: str
    unit: str = ""


def _modbus(sc: StationConfig) -> tuple[tuple[str, DeviceConfig], tuple[str, DeviceConfig]]:
    return (("scale", sc.scale), ("valve", sc.valve))


def _endpoint(dev: DeviceConfig) -> TcpEndpoint | RtuEndpoint:
    if dev.protocol == "rtu":
        return RtuEndpoint(dev.serial_port, dev.baudrate)
    return TcpEndpoint(dev.host, dev.port)


def _check_addresses(config: FloorConfig) -> None:
    """A serial path or a TCP address serves one simulated thing: a bus, a Modbus listener, a scanner."""
    owners: dict[object, tuple[str, str]] = {}  # key -> (kind of thing, first device on it)

    def claim(key: object, kind: str, who: str) -> None:
        if key in owners and owners[key][0] != kind:
            raise BadInput(f"{who}: {key} is also {owners[key][1]}'s: one address, one device")
        owners.setdefault(key, (kind, who))

    for sc in config.stations:
        for device, dev in _modbus(sc):
            key = dev.serial_port if dev.protocol == "rtu" else f"{dev.host}:{dev.port}"
            claim(key, f"modbus-{dev.protocol}", f"{sc.id}.{device}")
        s = sc.scanner
        key = s.serial_port if s.kind == "serial" else f"{s.host}:{s.port}"
        claim(key, f"scanner {sc.id}", f"{sc.id}.scanner")


def _who(config: FloorConfig, endpoint: object) -> str:
    return ", ".join(f"{sc.id}.{name}" for sc in config.stations for name, dev in _modbus(sc)
                     if _endpoint(dev) == endpoint)  # fmt: skip


@define
class ConfigDevices:
    """The running simulated devices of a config, for the command loop and the start-up table."""

    config: FloorConfig
    host: DeviceHost
    scanners: dict[str, PtyScanner | TcpScanner] = field(factory=dict)

    @property
    def station_ids(self) -> list[str]:
        return [sc.id for sc in self.config.stations]

    def physics(self, station: str) -> SimulatedStation:
        return self.host.stations[station].physics

    def place(self, station: str, cylinder: str, gross_kg: float) -> None:
        self.host.call(station, lambda st: st.place(cylinder, gross_kg, DEFAULT_CAPACITY_KG))

    def remove(self, station: str) -> None:
        self.host.call(station, lambda st: st.remove())

    def listing(self) -> Iterator[ListingRow]:
        for sc in self.config.stations:
            for device, dev in _modbus(sc):
                where = self.host.address(sc.id, device)
                if dev.protocol == "rtu":
                    text = f"{dev.serial_port} -> {where} ({dev.baudrate} 8{dev.parity}1)"
                else:
                    assert not isinstance(where, str)
                    text = f"{where[0]}:{where[1]}"
                yield ListingRow(sc.id, device, f"modbus-{dev.protocol}", text, str(dev.unit_id))
            scanner = self.scanners[sc.id]
            if isinstance(scanner, PtyScanner):
                text = f"{sc.scanner.serial_port} -> {scanner.tty_path}"
            else:
                text = f"{sc.scanner.host}:{scanner.port}"
            yield ListingRow(sc.id, "scanner", sc.scanner.kind, text)


def _site(name: str, dev: DeviceConfig) -> DeviceSite:
    return DeviceSite(_endpoint(dev), dev.unit_id, register_map(name, dev.register_map))


def _hosted(
    config: FloorConfig, ph: PhysicsSettings, on_event: GroundTruthSink | None
) -> list[HostedStation]:
    hosted = []
    for i, sc in enumerate(config.stations):
        station = SimulatedStation(
            sc.id, flow_kg_s=ph.flow_kg_s, valve_delay_ms=ph.valve_delay_ms, noise_g=ph.noise_g,
            cutoff=sc.cutoff, seed=i, watchdog_ms=sc.valve.watchdog_ms, on_event=on_event,
        )  # fmt: skip
        hosted.append(HostedStation(station, _site("scale", sc.scale), _site("valve", sc.valve)))
    return hosted


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError that failed a listen, also inside the scanner's nursery's ExceptionGroup."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return _os_error(exc.exceptions[0])
    return None


@contextlib.asynccontextmanager
async def open_config_devices(
    config: FloorConfig, physics: PhysicsSettings, on_event: GroundTruthSink | None = None
) -> AsyncIterator[ConfigDevices]:
    """Serve the config's devices for the duration of the block; every link made is removed after."""
    _check_addresses(config)
    # Each bus by its path, with the first device on it (whose address is the bus's tty).
    buses: dict[str, tuple[str, str]] = {}
    for sc in config.stations:
        for name, dev in _modbus(sc):
            if dev.protocol == "rtu":
                buses.setdefault(dev.serial_port, (sc.id, name))
    for path, (sid, name) in buses.items():
        claim_link(Path(path), f"{sid}.{name}")
    for sc in config.stations:
        if sc.scanner.kind == "serial":
            claim_link(Path(sc.scanner.serial_port), f"{sc.id}.scanner")

    host = DeviceHost(_hosted(config, physics, on_event), tick_hz=physics.tick_hz)
    try:
        await trio.to_thread.run_sync(host.start)
    except ListenError as exc:
        raise BadInput(
            f"{_who(config, exc.endpoint)}: cannot listen on {exc.endpoint}: {exc.reason}"
        ) from None
    devices = ConfigDevices(config, host)
    async with contextlib.AsyncExitStack() as stack:

        async def stop_host() -> None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(host.stop)

        stack.push_async_callback(stop_host)
        for path, (sid, name) in buses.items():
            stack.callback(remove_link, Path(path))
            point_link(Path(path), str(host.address(sid, name)))
        # (A BadInput from here on reaches the caller inside an ExceptionGroup, as trio's nurseries
        # wrap what passes through them: the CLI unwraps it.)
        nursery = await stack.enter_async_context(trio.open_nursery())
        for i, sc in enumerate(config.stations):
            if sc.scanner.kind == "serial":
                pty = PtyScanner(link_path=Path(sc.scanner.serial_port), seed=i)
                stack.callback(pty.close)
                devices.scanners[sc.id] = pty
                continue
            tcp = TcpScanner(host=sc.scanner.host, port=sc.scanner.port, seed=i)
            try:
                await nursery.start(tcp.run)
            except (OSError, ExceptionGroup) as exc:
                reason = _os_error(exc)
                if reason is None:
                    raise
                raise BadInput(f"{sc.id}.scanner: cannot listen on {sc.scanner.host}:{sc.scanner.port}: "
                               f"{reason.strerror or reason}") from None  # fmt: skip
            devices.scanners[sc.id] = tcp
        yield devices
        nursery.cancel_scope.cancel()
