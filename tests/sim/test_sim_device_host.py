"""Several simulated devices behind one Modbus TCP listener (a gateway): each answers at its own unit
id and register map, and a disconnect fault silences one without closing the others' listener."""

from __future__ import annotations

import struct
import time

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from actors.registers import register_map
from simulator.device_host import DeviceHost, DeviceSite, HostedStation, TcpEndpoint
from simulator.faults import Fault
from simulator.station_physics import SimulatedStation
from tests.support.ports import free_port


def test_units_behind_one_listener_keep_their_maps_and_faults_apart() -> None:
    port = free_port()
    shared = TcpEndpoint("127.0.0.1", port)
    moved = register_map("scale", {"gross": {"kind": "input", "address": 100, "type": "f32",
                                             "scale": 1, "word_order": "little"}})  # fmt: skip
    physics = SimulatedStation("S1", flow_kg_s=2.0, valve_delay_ms=0, cutoff="host")
    valve = DeviceSite(shared, 4, register_map("valve"))
    station = HostedStation(physics, DeviceSite(shared, 3, moved), valve)
    host = DeviceHost([station])
    host.start()
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        assert host.address("S1", "valve") == ("127.0.0.1", port)
        host.call("S1", lambda st: st.place("C1", 15.25))
        assert client.connect()
        deadline = time.monotonic() + 5
        while True:
            words = client.read_input_registers(100, count=2, device_id=3).registers
            if struct.unpack("<f", struct.pack("<HH", *words))[0] == pytest.approx(15.25):
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert not client.read_coils(0, count=1, device_id=4).isError()
        station.faults.inject(Fault("scale", "disconnect", 5.0))
        time.sleep(0.05)
        with pytest.raises(ModbusException):
            client.read_input_registers(100, count=2, device_id=3)
        client.close()
        assert client.connect()  # the listener is still open: the valve answers on it
        assert not client.read_coils(0, count=1, device_id=4).isError()
    finally:
        client.close()
        host.stop()
