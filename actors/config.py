"""What a device actor needs to reach its device: a Modbus device over TCP or RTU, a scanner over a
serial line or TCP (`[station.scale]`, `[station.valve]`, `[station.scanner]`; docs/config.md).

The defaults here are the file's defaults, and the limits in each field's metadata bound what the
file may set (`domain.setting`); the config reader reads these classes by their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from domain.setting import FieldProblem, limited, not_in_file

__all__ = ["VALVE_UNIT_ID", "DeviceConfig", "ScannerConfig"]

# A station's valve answers to unit id 2 unless set (its scale to 1), so that both may share a bus.
VALVE_UNIT_ID = 2


@frozen
class DeviceConfig:
    """A Modbus device: over TCP (host, port) or RTU (serial_port; several may share a bus)."""

    protocol: str = field(default="tcp", metadata=limited(choices=("tcp", "rtu")))
    host: str = "127.0.0.1"
    port: int = field(default=502, metadata=limited(lo=1, hi=65535))
    serial_port: str = ""
    baudrate: int = field(default=19200, metadata=limited(lo=1200, hi=921600))
    parity: str = field(default="N", metadata=limited(choices=("N", "E", "O")))
    unit_id: int = field(default=1, metadata=limited(lo=1, hi=247))
    poll_hz: float = field(default=20.0, metadata=limited(positive=True))
    timeout_s: float = field(default=0.2, metadata=limited(positive=True))
    # Consecutive failures before the device counts as lost.
    lost_after: int = field(default=3, metadata=limited(lo=1, hi=100))
    # Valve: the device drops the permit past this without a heartbeat.
    watchdog_ms: int = field(default=500, metadata=limited(lo=50, hi=60000))
    # Only the plant's overrides (`[station.scale.register_map]`), entry by entry.
    register_map: Mapping[str, Mapping[str, Any]] = field(factory=dict, metadata=not_in_file())

    def __attrs_post_init__(self) -> None:
        if self.protocol == "rtu" and not self.serial_port:
            raise FieldProblem("serial_port", 'is required for protocol = "rtu"')


@frozen
class ScannerConfig:
    kind: str = field(default="serial", metadata=limited(choices=("serial", "tcp")))
    serial_port: str = ""
    baudrate: int = field(default=9600, metadata=limited(lo=1200, hi=921600))
    host: str = "127.0.0.1"
    port: int = field(default=0, metadata=limited(lo=0, hi=65535))
    # A full match is an operator badge, anything else a label.
    badge_pattern: str = field(default=r"OP[0-9A-Za-z]{1,16}", metadata=limited(regex=True))
    max_frame: int = field(default=512, metadata=limited(lo=16, hi=65536))
