"""The simulated scale and valve over real Modbus: loopback TCP and RTU on a pty, pymodbus sync clients.

The devices run in their own thread from real time, so these tests wait for a condition (with a
generous deadline) instead of asserting on durations; the timing itself is tested on the explicit
clock in test_sim_physics.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import trio
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException

from simulator.faults import Fault
from simulator.ground_truth import SimMass, SimValve, TrioGroundTruth
from simulator.modbus_devices import SCALE_UNIT, VALVE_UNIT, StationDevices, open_station_devices
from simulator.station_physics import FILL_CUT_OFF, SimulatedStation
from tests.support.waiting import wait_until


def gross_kg(client: ModbusTcpClient | ModbusSerialClient) -> float:
    regs = client.read_holding_registers(0, count=3, device_id=SCALE_UNIT).registers
    raw = (regs[0] << 16) | regs[1]
    return (raw - (1 << 32) if raw & 0x80000000 else raw) / 1000.0


def i32(grams: int) -> list[int]:
    raw = grams & 0xFFFFFFFF
    return [raw >> 16, raw & 0xFFFF]


class Host:
    """A minimal host: heartbeats the valve and reads both devices over two TCP connections."""

    def __init__(self, devices: StationDevices) -> None:
        assert devices.scale_address
        assert devices.valve_address
        self.scale = ModbusTcpClient(devices.scale_address[0], port=devices.scale_address[1], timeout=1)
        self.valve = ModbusTcpClient(devices.valve_address[0], port=devices.valve_address[1], timeout=1)
        assert self.scale.connect()
        assert self.valve.connect()
        self.beat = 0

    def heartbeat(self) -> None:
        self.beat += 1
        self.valve.write_register(0, self.beat, device_id=VALVE_UNIT)

    def permit(self, on: bool) -> None:
        self.heartbeat()
        self.valve.write_coil(0, on, device_id=VALVE_UNIT)

    def feedback(self) -> bool:
        self.heartbeat()
        return bool(self.valve.read_discrete_inputs(0, count=1, device_id=VALVE_UNIT).bits[0])

    def permit_coil(self) -> bool:
        return bool(self.valve.read_coils(0, count=1, device_id=VALVE_UNIT).bits[0])

    def close(self) -> None:
        self.scale.close()
        self.valve.close()


@pytest.fixture
def tcp_station() -> Iterator[tuple[SimulatedStation, StationDevices, Host]]:
    station = SimulatedStation("S1", flow_kg_s=4.0, valve_delay_ms=50, cutoff="host", seed=3)
    with StationDevices(station, "tcp") as devices:
        devices.place("C1", 15.2)
        host = Host(devices)
        try:
            yield station, devices, host
        finally:
            host.close()


def test_tcp_host_reads_gross_and_fills_through_the_permit(tcp_station) -> None:
    station, _devices, host = tcp_station
    wait_until(lambda: gross_kg(host.scale) == 15.2)
    host.permit(True)
    wait_until(host.feedback)
    wait_until(lambda: gross_kg(host.scale) > 16.0)
    host.permit(False)
    wait_until(lambda: not host.feedback())
    time.sleep(0.05)  # the reading lags the position switch by up to one A/D period
    settled = gross_kg(host.scale)
    time.sleep(0.1)
    assert gross_kg(host.scale) == settled  # closed means closed: no more flow
    assert settled == pytest.approx(station.mass_kg, abs=0.001)


def test_tcp_watchdog_drops_the_permit_when_the_host_goes_quiet(tcp_station) -> None:
    _station, _devices, host = tcp_station
    host.permit(True)
    wait_until(host.feedback)
    # No more heartbeats: the device drops the permit on its own and the valve closes.
    wait_until(lambda: not host.permit_coil(), timeout_s=3.0)
    wait_until(lambda: not host.valve.read_discrete_inputs(0, count=1, device_id=VALVE_UNIT).bits[0])


def test_tcp_indicator_fill_mode_cuts_off_at_target_minus_preact() -> None:
    station = SimulatedStation("S1", flow_kg_s=4.0, valve_delay_ms=50, cutoff="indicator", seed=3)
    with StationDevices(station, "tcp") as devices:
        devices.place("C1", 15.2)
        host = Host(devices)
        try:
            wait_until(lambda: gross_kg(host.scale) == 15.2)
            host.scale.write_registers(10, [*i32(17_000), *i32(300)], device_id=SCALE_UNIT)
            host.permit(True)
            host.scale.write_register(14, 1, device_id=SCALE_UNIT)

            def cut_off() -> bool:
                host.heartbeat()
                return (
                    host.scale.read_holding_registers(15, count=1, device_id=1).registers[0] == FILL_CUT_OFF
                )

            wait_until(cut_off)
            wait_until(lambda: not host.feedback())
        finally:
            host.close()
    # Cut at 16.7 kg by the indicator; 50 ms of flow at 4 kg/s (+ one 10 ms A/D step) came after.
    assert 16.7 + 0.2 - 0.01 <= station.mass_kg <= 16.7 + 0.2 + 0.04 + 0.01


def test_tcp_disconnect_refuses_then_reopens_on_the_same_port(tcp_station) -> None:
    _station, devices, host = tcp_station
    assert devices.scale_address is not None
    # Long enough to look at on a loaded machine, and ended here (its end is what reopens the port).
    devices.inject(Fault("scale", "disconnect", 60))
    with pytest.raises(ModbusException):
        wait_until(lambda: gross_kg(host.scale) is None, timeout_s=10)  # the open connection is closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(devices.scale_address, timeout=1).close()
    devices.faults.clear("scale")
    fresh = ModbusTcpClient(devices.scale_address[0], port=devices.scale_address[1], timeout=1)
    try:
        wait_until(fresh.connect, timeout_s=10)
        assert gross_kg(fresh) == pytest.approx(15.2, abs=0.6)
    finally:
        fresh.close()


def test_tcp_garbage_replies_do_not_decode_until_the_fault_ends(tcp_station) -> None:
    _station, devices, host = tcp_station
    devices.inject(Fault("scale", "garbage", 60))
    with pytest.raises(ModbusException):
        gross_kg(host.scale)
    devices.faults.clear("scale")
    host.scale.close()
    assert host.scale.connect()
    wait_until(lambda: gross_kg(host.scale) == 15.2)


def test_tcp_frozen_scale_keeps_its_reading_while_the_mass_rises(tcp_station) -> None:
    station, devices, host = tcp_station
    wait_until(lambda: gross_kg(host.scale) == 15.2)
    devices.inject(Fault("scale", "freeze", 5.0))
    time.sleep(0.05)
    host.permit(True)
    wait_until(lambda: host.feedback() and station.mass_kg > 16.0)
    assert gross_kg(host.scale) == 15.2
    host.permit(False)


def test_tcp_frozen_valve_ignores_the_close_command(tcp_station) -> None:
    station, devices, host = tcp_station
    # Without heartbeats (a frozen valve takes none) its watchdog would drop the permit 0.5 s on,
    # and the coil read below must not depend on coming sooner than that on a loaded machine.
    station.write_watchdog_ms(0)
    host.permit(True)
    wait_until(host.feedback)
    devices.inject(Fault("valve", "freeze", 60))
    host.valve.write_coil(0, False, device_id=VALVE_UNIT)
    time.sleep(0.05)
    assert host.permit_coil()  # the command was answered, and ignored
    assert host.valve.read_discrete_inputs(0, count=1, device_id=VALVE_UNIT).bits[0]


def test_rtu_bus_serves_scale_and_valve_on_one_pty() -> None:
    station = SimulatedStation("S1", flow_kg_s=4.0, valve_delay_ms=50, cutoff="host", seed=3)
    with StationDevices(station, "rtu") as devices:
        devices.place("C7", 16.4)
        assert devices.serial_port is not None
        client = ModbusSerialClient(port=devices.serial_port, baudrate=19200, timeout=0.3, retries=0)
        try:
            assert client.connect()
            wait_until(lambda: gross_kg(client) == 16.4)
            client.write_register(0, 1, device_id=VALVE_UNIT)
            assert not client.write_coil(0, True, device_id=VALVE_UNIT).isError()
            wait_until(lambda: client.read_discrete_inputs(0, count=1, device_id=VALVE_UNIT).bits[0])
            client.write_coil(0, False, device_id=VALVE_UNIT)
            # A unit that is not on the bus stays silent, as on RS-485.
            with pytest.raises(ModbusException):
                client.read_holding_registers(0, count=1, device_id=9)
            # A disconnected valve is silent too, while the scale on the same bus still answers.
            devices.inject(Fault("valve", "disconnect", 5.0))
            time.sleep(0.05)
            with pytest.raises(ModbusException):
                client.read_coils(0, count=1, device_id=VALVE_UNIT)
            assert gross_kg(client) > 16.4
        finally:
            client.close()


async def test_ground_truth_reaches_trio_in_order() -> None:
    truth = TrioGroundTruth()
    station = SimulatedStation("S4", flow_kg_s=4.0, valve_delay_ms=50, cutoff="host", on_event=truth)
    async with open_station_devices(station, "tcp") as devices:
        devices.place("C9", 15.0)
        host = await trio.to_thread.run_sync(Host, devices)
        try:
            await trio.to_thread.run_sync(host.permit, True)
            opened = await truth.receive.receive()
            await trio.to_thread.run_sync(host.permit, False)
            closed = await truth.receive.receive()
            mass = await truth.receive.receive()
        finally:
            await trio.to_thread.run_sync(host.close)
    assert isinstance(opened, SimValve)
    assert opened.open
    assert isinstance(closed, SimValve)
    assert not closed.open
    assert isinstance(mass, SimMass)
    assert mass.cylinder == "C9"
    assert mass.gross_kg > 15.0
    assert mass.fields()["station"] == "S4"
