"""The Modbus link on this machine: one read of the scale's 16 registers, round trip.

    python -m benchmarks.modbus_bench [--reads 500]

- raw framer: pymodbus building the request and decoding the reply, no I/O (the floor of the cost);
- Modbus TCP over loopback to the simulated indicator (`actors.link.TcpTransport`);
- Modbus RTU over a pty pair to the simulated indicator, at 19,200 and 115,200 baud as configured.
  A pty does not pace bytes at the baud rate, so these show the software's cost; on a real RS-485
  line a 16-register read (8 + 37 bytes, 11 bits each) takes 25.8 ms at 19,200 baud and 4.3 ms at
  115,200 before the device's turnaround.
The simulated device answers from its own thread (asyncio, pymodbus's server), like a real
indicator's firmware would from its own CPU, but it shares this machine's 2 cores and the GIL.
"""

from __future__ import annotations

import argparse
import statistics
import time

import trio
from pymodbus.framer import FramerSocket
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest, ReadHoldingRegistersResponse

from actors.link import ModbusDevice, RtuBus, TcpTransport
from simulator.modbus_devices import open_station_devices
from simulator.station_physics import SimulatedStation

__all__ = ["run"]


def _raw_framer_us(n: int) -> float:
    client = FramerSocket(DecodePDU(is_server=False))
    reply = FramerSocket(DecodePDU(is_server=True)).buildFrame(
        ReadHoldingRegistersResponse(registers=[0] * 16, dev_id=1, transaction_id=7)
    )
    t0 = time.perf_counter()
    for _ in range(n):
        client.buildFrame(ReadHoldingRegistersRequest(address=0, count=16, dev_id=1, transaction_id=7))
        client.handleFrame(reply, 1, 7)
    return (time.perf_counter() - t0) / n * 1e6


async def _link(protocol: str, baudrate: int, n: int) -> list[float]:
    station = SimulatedStation("B", flow_kg_s=2.0, valve_delay_ms=150)
    async with open_station_devices(station, protocol, baudrate=baudrate) as devices:  # type: ignore[arg-type]
        if protocol == "tcp":
            assert devices.scale_address
            transport: TcpTransport | RtuBus = TcpTransport(*devices.scale_address)
        else:
            assert devices.serial_port
            transport = RtuBus(devices.serial_port, baudrate)
        device = ModbusDevice(transport, 1, timeout=1.0)
        await device.read_holding(0, 16)
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            await device.read_holding(0, 16)
            samples.append((time.perf_counter() - t0) * 1e6)
        await transport.aclose()
    return samples


def run(reads: int = 500) -> list[dict[str, object]]:
    raw = _raw_framer_us(5000)
    name = "Modbus read of 16 registers: raw framer (baseline)"
    rows: list[dict[str, object]] = [{"name": name, "value": raw, "unit": "µs", "note": "build, decode"}]
    for protocol, baud in (("tcp", 0), ("rtu", 19200), ("rtu", 115200)):
        samples = trio.run(_link, protocol, baud or 19200, reads)
        p50 = statistics.median(samples)
        p99 = statistics.quantiles(samples, n=100)[98]
        where = "TCP loopback" if protocol == "tcp" else f"RTU over a pty at {baud} baud"
        rows.append({"name": f"Modbus read of 16 registers: {where}, p50", "value": p50, "unit": "µs",
                     "ratio": p50 / raw, "note": f"p99 {p99:.0f} µs over {reads} reads"})  # fmt: skip
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=500)
    for r in run(parser.parse_args().reads):
        print(f"{r['name']}: {r['value']:.0f} {r['unit']} ({r['note']})")
