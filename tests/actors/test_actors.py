"""The device actors and their Modbus link, against the simulated devices over real TCP and RTU (ptys).

Real time (the simulated devices run in their own thread), so the tests wait for a condition with a
generous deadline and never assert on durations.
"""

from __future__ import annotations

import tracemalloc
from decimal import Decimal

import pytest
import trio

from actors.config import DeviceConfig
from actors.device_link import Teller
from actors.link import LinkClosed, ModbusDevice, ModbusError, ModbusMalformed, RtuBus, TcpTransport
from actors.registers import Register, decode, encode, register_map
from actors.scale import ScaleActor
from actors.valve import ValveActor
from domain.messages import (
    DeviceLink,
    IndicatorFillState,
    IndicatorOrder,
    PermitOrder,
    StationInput,
    ValveStatus,
    WeightSample,
)
from simulator.faults import Fault
from simulator.modbus_devices import StationDevices, open_station_devices
from simulator.station_physics import SimulatedStation
from supervisor.runtime import Latest, PermitGate
from tests.support.waiting import until


def _transport(devices: StationDevices, which: str) -> TcpTransport | RtuBus:
    if devices.protocol == "rtu":
        assert devices.serial_port
        return RtuBus(devices.serial_port, 19200)
    address = devices.scale_address if which == "scale" else devices.valve_address
    assert address
    return TcpTransport(*address)


@pytest.mark.parametrize("protocol", ["tcp", "rtu"])
async def test_reads_and_writes_round_trip(protocol: str) -> None:
    station = SimulatedStation("S1", flow_kg_s=2.0, valve_delay_ms=150)
    async with open_station_devices(station, protocol) as devices:  # type: ignore[arg-type]
        devices.place("C1", 15.5)
        bus = _transport(devices, "scale")
        scale = ModbusDevice(bus, 1)
        valve = ModbusDevice(bus if protocol == "rtu" else _transport(devices, "valve"), 2)
        await until(lambda: station.mass_kg > 15 and station.scale_view().stable)
        try:
            gross = register_map("scale")["gross"]
            # (the simulator copies the model into its registers on its next tick)
            with trio.fail_after(10):
                while not 15.4 < float(decode(gross, (await scale.read_holding(0, 16))[0:2])) < 15.6:  # noqa: ASYNC110
                    await trio.sleep(0.05)
            await valve.write_register(1, 800)
            assert await valve.read_holding(1, 1) == [800]
            assert await valve.read_discrete(0) == [False]
        finally:
            await scale.transport.aclose()
            await valve.transport.aclose()


@pytest.mark.parametrize(("protocol", "error"), [("tcp", ModbusMalformed), ("rtu", ModbusError)])
async def test_garbage_replies_are_errors_never_values(protocol: str, error: type[Exception]) -> None:
    station = SimulatedStation("S1", flow_kg_s=2.0, valve_delay_ms=150)
    async with open_station_devices(station, protocol) as devices:  # type: ignore[arg-type]
        # Over TCP a reply late on a busy machine would be a timeout, not the malformed frame looked
        # for; an RTU frame garbled ends as silence anyway (a timeout is its error).
        scale = ModbusDevice(_transport(devices, "scale"), 1, timeout=2.0 if protocol == "tcp" else 0.3)
        assert len(await scale.read_holding(0, 16)) == 16
        devices.inject(Fault("scale", "garbage", 60))
        await trio.sleep(0.1)
        for _ in range(3):
            with pytest.raises(error):
                await scale.read_holding(0, 16)
        devices.faults.clear()
        with trio.fail_after(10):
            while True:  # the link comes back in step after the garbage
                try:
                    assert len(await scale.read_holding(0, 16)) == 16
                    break
                except ModbusError:
                    await trio.sleep(0.1)
        await scale.transport.aclose()


async def test_a_refused_connection_is_link_closed() -> None:
    with trio.socket.socket() as s:
        await s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        device = ModbusDevice(TcpTransport("127.0.0.1", port), 1)
        with pytest.raises(LinkClosed):
            await device.read_holding(0, 1)


def test_register_maps_decode_encode_and_overrides() -> None:
    gross = register_map("scale")["gross"]
    assert decode(gross, encode(gross, Decimal("-1.234"))) == Decimal("-1.234")
    little = Register("holding", 0, "i32", Decimal("0.001"), "little")
    assert encode(little, Decimal("29.7")) == [29700, 0]
    f32 = Register("input", 0, "f32")
    assert decode(f32, encode(f32, Decimal("15.5"))) == Decimal("15.5")
    moved = register_map("scale", {"gross": {"address": 100, "kind": "input"}})["gross"]
    assert (moved.address, moved.kind, moved.type, moved.scale) == (100, "input", "i32", Decimal("0.001"))
    bad_overrides = [
        ({"gros": {"address": 1}}, "unknown entry"), ({"gross": {"type": "f64"}}, "type"),
        ({"gross": {"kind": "coil"}}, "bool values"), ({"gross": {"scale": 0}}, "scale"),
    ]  # fmt: skip
    for bad, message in bad_overrides:
        with pytest.raises(ValueError, match=message):
            register_map("scale", bad)
    with pytest.raises(ValueError, match="does not fit"):
        encode(register_map("valve")["heartbeat"], Decimal(70000))


async def test_the_scale_reports_samples_and_a_lost_device_then_recovers() -> None:
    station = SimulatedStation("S1", flow_kg_s=2.0, valve_delay_ms=150)
    async with open_station_devices(station, "tcp") as devices:
        devices.place("C1", 15.5)
        got: list[StationInput] = []
        assert devices.scale_address
        config = DeviceConfig(port=devices.scale_address[1], timeout_s=0.2, lost_after=3)
        actor = ScaleActor(config, TcpTransport(*devices.scale_address), Teller(got.append))
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            await until(
                lambda: any(isinstance(m, WeightSample) and m.stable and m.gross_kg > 15 for m in got)
            )
            devices.inject(Fault("scale", "disconnect", 1.5))
            await until(lambda: any(isinstance(m, DeviceLink) and not m.up for m in got))
            await until(lambda: any(isinstance(m, DeviceLink) and m.up for m in got))
            n = len(got)
            await until(lambda: any(isinstance(m, WeightSample) for m in got[n:]))
            nursery.cancel_scope.cancel()


async def test_indicator_orders_are_written_read_back_and_the_indicator_cuts_off() -> None:
    station = SimulatedStation("S1", flow_kg_s=4.0, valve_delay_ms=50)
    async with open_station_devices(station, "tcp") as devices:
        devices.place("C1", 15.5)
        got: list[StationInput] = []
        orders: Latest[IndicatorOrder] = Latest()
        assert devices.scale_address
        actor = ScaleActor(DeviceConfig(), TcpTransport(*devices.scale_address), Teller(got.append), orders)
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            orders.set(IndicatorOrder(True, Decimal("20.0"), Decimal("0.1")))
            await until(lambda: station.target_kg == 20.0 and station.fill_cmd == 1)
            assert devices.valve_address
            valve = ModbusDevice(TcpTransport(*devices.valve_address), 2)
            await valve.write_register(1, 0)  # watchdog off: no valve actor here to feed it
            await valve.write_coil(0, True)  # the permit, as the valve actor gives it
            await valve.transport.aclose()
            await until(lambda: any(isinstance(m, WeightSample) and m.fill_state == IndicatorFillState.CUT_OFF
                                    for m in got))  # fmt: skip
            assert 19.8 < station.mass_kg < 20.3
            orders.set(IndicatorOrder(False))
            await until(lambda: station.fill_cmd == 0)
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("protocol", ["tcp", "rtu"])
async def test_the_valve_opens_only_with_the_gate_closes_on_revoke_and_the_watchdog_covers_a_lost_link(
    protocol: str,
) -> None:
    station = SimulatedStation("S1", flow_kg_s=2.0, valve_delay_ms=50, cutoff="host")
    async with open_station_devices(station, protocol) as devices:  # type: ignore[arg-type]
        got: list[StationInput] = []
        gate, orders = PermitGate("S1"), Latest[PermitOrder]()
        transport = _transport(devices, "valve")
        actor = ValveActor(
            DeviceConfig(unit_id=2, watchdog_ms=300), transport, Teller(got.append), orders, gate
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            orders.set(PermitOrder(True, "fill"))
            await until(lambda: any(isinstance(m, ValveStatus) for m in got))
            await trio.sleep(0.3)
            assert station.valve_view().permit is False  # the gate does not allow it yet
            gate.actor_state("scale", True)
            gate.actor_state("valve", True)
            orders.set(PermitOrder(True, "fill"))
            await until(lambda: station.valve_view().permit)
            await until(lambda: any(isinstance(m, ValveStatus) and m.feedback_open for m in got))
            gate.actor_state("scale", False)  # the scale actor stops: revoked, closed at once
            await until(lambda: not station.valve_view().permit)
            gate.actor_state("scale", True)
            orders.set(PermitOrder(True, "fill again"))
            await until(lambda: station.valve_view().permit)
            # The line to the valve is cut: no heartbeat reaches it, and its own watchdog closes it.
            devices.inject(Fault("valve", "disconnect", 30))
            await until(lambda: not station.valve_view().permit)
            await until(lambda: any(isinstance(m, DeviceLink) and not m.up for m in got))
            nursery.cancel_scope.cancel()


async def test_a_tcp_link_keeps_nothing_per_request() -> None:
    """A device connection lives for months: it must not hold on to anything per request (its
    transaction ids came from itertools.cycle, which kept every id of its first 65,535)."""
    station = SimulatedStation("S1", flow_kg_s=2.0, valve_delay_ms=150)
    async with open_station_devices(station, "tcp") as devices:
        transport = _transport(devices, "scale")
        scale = ModbusDevice(transport, 1)
        await scale.read_holding(0, 1)  # connected
        link = [tracemalloc.Filter(True, "*/actors/link.py")]
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot().filter_traces(link)
            for _ in range(1500):
                await scale.read_holding(0, 1)
            after = tracemalloc.take_snapshot().filter_traces(link)
        finally:
            tracemalloc.stop()
        await transport.aclose()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 8_000, f"{grown} bytes kept by actors/link.py over 1,500 requests"
