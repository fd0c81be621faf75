"""The real device actors of a station, as the floor builds them (`supervisor.floor.DeviceActors`).

One factory per floor: stations whose scale and valve share an RS-485 line (Modbus RTU on one
serial port) share one `RtuBus`, so requests on that line never overlap.
"""

from __future__ import annotations

from collections.abc import Mapping

from actors.config import DeviceConfig
from actors.device_link import Teller
from actors.link import RtuBus, TcpTransport, Transport
from actors.scale import ScaleActor
from actors.scanner import ScannerActor
from actors.valve import ValveActor
from supervisor.floor import StationParts
from supervisor.runtime import StartFn

__all__ = ["DeviceActorFactory"]


class DeviceActorFactory:
    def __init__(self) -> None:
        self._buses: dict[str, RtuBus] = {}

    def transport(self, config: DeviceConfig) -> Transport:
        if config.protocol == "rtu":
            bus = self._buses.get(config.serial_port)
            if bus is None:
                bus = self._buses[config.serial_port] = RtuBus(
                    config.serial_port, config.baudrate, config.parity
                )
            return bus
        return TcpTransport(config.host, config.port, connect_timeout=max(1.0, 5 * config.timeout_s))

    def __call__(self, parts: StationParts) -> Mapping[str, StartFn]:
        sc = parts.config
        tell = Teller(parts.tell)
        valve = ValveActor(sc.valve, self.transport(sc.valve), tell, parts.permit, parts.gate)
        indicator = parts.indicator if sc.cutoff == "indicator" else None
        scale = ScaleActor(sc.scale, self.transport(sc.scale), tell, indicator)
        scanner = ScannerActor(sc.scanner, sc.id, parts.inbox)
        # Start order: the valve first (closed, watchdog fed), the scanner last; stopped in reverse.
        return {"valve": valve.run, "scale": scale.run, "scanner": scanner.run}
