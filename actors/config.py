"""What a device actor needs to reach its device: a Modbus device over TCP or RTU, a scanner over a
serial line or TCP (`[station.scale]`, `[station.valve]`, `[station.scanner]`; docs/config.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

__all__ = ["DeviceConfig", "ScannerConfig"]


@frozen
class DeviceConfig:
    """A Modbus device: over TCP (host, port) or RTU (serial_port; several may share a bus)."""

    protocol: str = "tcp"
    host: str = "127.0.0.1"
    port: int = 502
    serial_port: str = ""
    baudrate: int = 19200
    parity: str = "N"
    unit_id: int = 1
    poll_hz: float = 20.0
    timeout_s: float = 0.2
    lost_after: int = 3  # consecutive failures before the device counts as lost
    watchdog_ms: int = 500  # valve: the device drops the permit past this without a heartbeat
    register_map: Mapping[str, Mapping[str, Any]] = field(factory=dict)


@frozen
class ScannerConfig:
    kind: str = "serial"  # serial | tcp
    serial_port: str = ""
    baudrate: int = 9600
    host: str = "127.0.0.1"
    port: int = 0
    badge_pattern: str = r"OP[0-9A-Za-z]{1,16}"  # a full match is a badge, anything else a label
    max_frame: int = 512
