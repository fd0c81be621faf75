"""The config of a one-station floor on simulated devices, as the `serve` tests run it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["one_station_config"]


def one_station_config(console_port: int, scale_port: int, valve_port: int, scanner: Path,
                       platform: str = "") -> str:  # fmt: skip
    """Unit HY0012, a console on loopback, station S1 (host cut-off) with its scale and valve on
    Modbus TCP at those ports and its scanner on the pty `scanner`; `platform`: a [platform] URL."""
    platform_table = f'[platform]\nurl = "{platform}"\nsync_interval_s = 0.5\n' if platform else ""
    return f"""
[unit]
code = "HY0012"
short_name = "衡阳燃气"
[console]
listen = "127.0.0.1:{console_port}"
{platform_table}[[station]]
id = "S1"
cutoff = "host"
[station.scale]
host = "127.0.0.1"
port = {scale_port}
[station.valve]
host = "127.0.0.1"
port = {valve_port}
[station.scanner]
serial_port = "{scanner}"
"""
