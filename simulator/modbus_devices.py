"""One station's weighing indicator and permit valve as real Modbus devices (TCP or RTU over a pty).

pymodbus's servers are asyncio, so each `StationDevices` runs its own asyncio loop in its own thread.
That loop ticks the physics (`SimulatedStation`) from real time at `tick_hz`: on each tick it reads
what the host wrote (permit, heartbeat, target, preact, fill command), advances the model, and writes
back what the devices show (gross, status, fill state, permit after the watchdog, feedback). Every
call from outside (trio or plain threads) reaches the loop through `call_soon_threadsafe` and never
waits on it, except `start()`/`stop()`, which trio code runs through `open_station_devices`.

Register maps: docs/devices.md (scale unit 1, valve unit 2; on TCP each device has its own server
and answers any unit id). Faults (`FaultBoard`): disconnect closes the TCP listener and its
connections and reopens it on the same port afterwards, or leaves the RTU unit silent; garbage
corrupts every reply; freeze and stuck_open act inside the model. A device that is disconnected or
frozen ignores host writes: the tick puts its own values back into the registers.

RTU: the floor's pty pair and the server's pty pair are joined by a byte relay in the loop, so the
floor opens `serial_port` (the slave of a pty pair, as with a USB–RS-485 adapter) and pymodbus's
own serial server serves the other pair unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import tty
from collections.abc import AsyncIterator, Callable
from typing import Literal

import trio
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulator.faults import Fault, FaultBoard
from simulator.station_physics import DEFAULT_CAPACITY_KG, SimulatedStation

__all__ = ["SCALE_UNIT", "VALVE_UNIT", "StationDevices", "open_station_devices"]

SCALE_UNIT = 1
VALVE_UNIT = 2
_UNIT_DEVICE = {SCALE_UNIT: "scale", VALVE_UNIT: "valve"}

# Function codes for the server's datastore calls.
_COILS, _DISCRETE, _HOLDING = 1, 2, 3

# Scale holding registers (docs/devices.md).
_GROSS, _STATUS, _TARGET, _PREACT, _FILL_CMD, _FILL_STATE = 0, 2, 10, 12, 14, 15
_SCALE_REGS = 16
# Valve: coil 0 permit, discrete input 0 feedback, holding 0 heartbeat, 1 watchdog_ms.
_HEARTBEAT, _WATCHDOG = 0, 1

Protocol = Literal["tcp", "rtu"]

# Function codes reserved for user-defined functions (Modbus Application Protocol v1.1b3, §5):
# no standard decoder knows them, so a reply carrying one is malformed for the host.
_UNUSED_FUNCTION_CODES = (0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x64, 0x65, 0x6E)


def _i32_regs(value: int) -> list[int]:
    """A signed 32-bit value as two registers, high word first."""
    raw = value & 0xFFFFFFFF
    return [raw >> 16, raw & 0xFFFF]


def _regs_i32(regs: list[int]) -> int:
    raw = (regs[0] << 16) | regs[1]
    return raw - (1 << 32) if raw & 0x80000000 else raw


def _scale_device(unit: int) -> SimDevice:
    return SimDevice(id=unit, simdata=[SimData(0, count=_SCALE_REGS, values=0, datatype=DataType.REGISTERS)])


def _valve_device(unit: int) -> SimDevice:
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    return SimDevice(
        id=unit,
        simdata=(
            bits,
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=2, values=0, datatype=DataType.REGISTERS)],
            # No input registers on this device: one invalid address answers "illegal address".
            [SimData(0, datatype=DataType.INVALID)],
        ),
    )


class _Relay:
    """Copies bytes both ways between two pty masters (the floor's bus and the server's port)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, a: int, b: int) -> None:
        self._loop = loop
        self._fds = (a, b)
        loop.add_reader(a, self._copy, a, b)
        loop.add_reader(b, self._copy, b, a)

    def _copy(self, src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # EIO: nobody holds the slave side open right now
        if not data:
            return
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            # A full buffer loses bytes, as an overrun bus would.
            os.write(dst, data)

    def close(self) -> None:
        for fd in self._fds:
            self._loop.remove_reader(fd)


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
        if tick_hz <= 0:
            raise ValueError("tick_hz must be > 0")
        self.station = station
        self.protocol = protocol
        self.faults = faults if faults is not None else FaultBoard()
        self._tick_s = 1.0 / tick_hz
        self._host = host
        self._baudrate = baudrate
        self._rng = random.Random(seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tcp: dict[str, ModbusTcpServer] = {}
        self._down: set[str] = set()
        self._serial: ModbusSerialServer | None = None
        self._fds: list[int] = []
        self.scale_address: tuple[str, int] | None = None
        self.valve_address: tuple[str, int] | None = None
        self.serial_port: str | None = None
        self.ticks = 0

    # ------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> None:
        """Start the servers in their own thread; return once they listen (blocking, briefly)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(
            target=self._run, name=f"sim-{self.station.station_id}-{self.protocol}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulated devices did not start")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"the simulated devices failed to start: {self._error}") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the servers and the thread (blocking, briefly). Idempotent."""
        if self._thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> StationDevices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------- commands from any thread, never waiting
    def call(self, fn: Callable[[SimulatedStation], object]) -> None:
        """Run `fn(station)` in the simulator's loop, between two ticks."""
        if self._loop is None:
            raise RuntimeError("not started")
        self._loop.call_soon_threadsafe(fn, self.station)

    def place(self, cylinder: str, gross_kg: float, capacity_kg: float = DEFAULT_CAPACITY_KG) -> None:
        self.call(lambda st: st.place(cylinder, gross_kg, capacity_kg))

    def remove(self) -> None:
        self.call(lambda st: st.remove())

    def inject(self, fault: Fault) -> None:
        """Start a device fault; the next tick applies it."""
        self.faults.inject(fault)

    # ------------------------------------------------------------------------- the loop thread
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); nothing else can catch it in this thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        relay = None
        try:
            if self.protocol == "tcp":
                await self._start_tcp()
            else:
                relay = await self._start_rtu()
            await self._write_initial()
            self._ready.set()
            await self._tick_forever()
        finally:
            if relay is not None:
                relay.close()
            for server in self._tcp.values():
                await server.shutdown()
            if self._serial is not None:
                await self._serial.shutdown()
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()

    async def _start_tcp(self) -> None:
        for device, make in (("scale", _scale_device), ("valve", _valve_device)):
            # Unit id 0: a TCP device answers whatever unit id the host sends.
            server = ModbusTcpServer(
                make(0), address=(self._host, 0), trace_packet=self._tracer(lambda _data, d=device: d)
            )
            await server.serve_forever(background=True)
            port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            # Reopen on the same port after a disconnect fault: re-point the listener at it.
            server.init_setup_connect_listen(self._host, port)
            self._tcp[device] = server
            if device == "scale":
                self.scale_address = (self._host, port)
            else:
                self.valve_address = (self._host, port)

    async def _start_rtu(self) -> _Relay:
        floor_master, floor_slave = os.openpty()
        dev_master, dev_slave = os.openpty()
        self._fds += [floor_master, floor_slave, dev_master, dev_slave]
        for fd in self._fds:
            tty.setraw(fd)  # no echo, no line discipline: Modbus RTU is binary
        os.set_blocking(floor_master, False)
        os.set_blocking(dev_master, False)
        self._serial = ModbusSerialServer(
            [_scale_device(SCALE_UNIT), _valve_device(VALVE_UNIT)],
            framer=FramerType.RTU,
            port=os.ttyname(dev_slave),
            baudrate=self._baudrate,
            trace_packet=self._tracer(lambda data: _UNIT_DEVICE.get(data[0]) if data else None),
        )
        await self._serial.serve_forever(background=True)
        self.serial_port = os.ttyname(floor_slave)
        return _Relay(asyncio.get_running_loop(), floor_master, dev_master)

    def _tracer(self, device_of: Callable[[bytes], str | None]) -> Callable[[bool, bytes], bytes]:
        """pymodbus's packet hook: silence and corrupt replies as the faults say."""
        header = 7 if self.protocol == "tcp" else 1  # MBAP header / RTU address byte

        def trace(sending: bool, data: bytes) -> bytes:
            if not sending:
                return data
            device = device_of(data)
            if device is None:
                return b""  # RTU: a unit that is not on this bus stays silent
            if self.protocol == "rtu" and self.faults.active(device, "disconnect"):
                return b""
            if self.faults.active(device, "garbage"):
                return self._corrupt(data, header)
            return data

        return trace

    def _corrupt(self, frame: bytes, header: int) -> bytes:
        """A reply that arrives whole but does not decode: a function code no device uses, scrambled data
        (on RTU the CRC no longer matches either)."""
        body = bytes(b ^ self._rng.randrange(1, 256) for b in frame[header + 1 :])
        return frame[:header] + bytes([self._rng.choice(_UNUSED_FUNCTION_CODES)]) + body

    async def _write_initial(self) -> None:
        st = self.station
        valve = self._server("valve")
        await valve.async_setValues(self._unit("valve"), _HOLDING, _HEARTBEAT, [st.heartbeat, st.watchdog_ms])
        await self._write_back(accept_scale=True, accept_valve=True)

    def _server(self, device: str) -> ModbusTcpServer | ModbusSerialServer:
        if self._serial is not None:
            return self._serial
        return self._tcp[device]

    def _unit(self, device: str) -> int:
        if self._serial is None:
            return 0
        return SCALE_UNIT if device == "scale" else VALVE_UNIT

    async def _tick_forever(self) -> None:
        assert self._stop is not None
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stop.is_set():
            await asyncio.sleep(self._tick_s)
            now = loop.time()
            await self._tick(now - last)
            last = now

    async def _tick(self, dt: float) -> None:
        st, faults = self.station, self.faults
        st.ad_frozen = faults.active("scale", "freeze")
        st.stuck_open = faults.active("valve", "stuck_open")
        scale_up = not faults.active("scale", "disconnect")
        valve_up = not faults.active("valve", "disconnect")
        st.valve_ignores_commands = not valve_up or faults.active("valve", "freeze")
        if self.protocol == "tcp":
            await self._follow_disconnect("scale", scale_up)
            await self._follow_disconnect("valve", valve_up)
        await self._read_host(accept_scale=scale_up)
        st.tick(dt)
        await self._write_back(accept_scale=scale_up, accept_valve=not st.valve_ignores_commands)
        self.ticks += 1

    async def _follow_disconnect(self, device: str, up: bool) -> None:
        server = self._tcp[device]
        if not up and device not in self._down:
            self._down.add(device)
            server.close()  # closes the listener and every connection: new ones are refused
        elif up and device in self._down and await server.listen():
            self._down.discard(device)

    async def _read_host(self, *, accept_scale: bool) -> None:
        st = self.station
        if accept_scale:
            regs = await self._server("scale").async_getValues(
                self._unit("scale"), _HOLDING, _TARGET, _FILL_CMD - _TARGET + 1
            )
            st.write_target(_regs_i32(regs[0:2]) / 1000.0)
            st.write_preact(_regs_i32(regs[2:4]) / 1000.0)
            st.write_fill_cmd(int(regs[4]))
        valve, unit = self._server("valve"), self._unit("valve")
        heartbeat, watchdog = await valve.async_getValues(unit, _HOLDING, _HEARTBEAT, 2)
        (permit,) = (await valve.async_getValues(unit, _COILS, 0, 1))[:1]
        # Heartbeat first: a host that refreshes it and grants the permit in one go is not tripped.
        st.write_heartbeat(int(heartbeat))
        st.write_watchdog_ms(int(watchdog))
        st.write_permit(bool(permit))

    async def _write_back(self, *, accept_scale: bool, accept_valve: bool) -> None:
        st = self.station
        scale, unit = self._server("scale"), self._unit("scale")
        view = st.scale_view()
        await scale.async_setValues(unit, _HOLDING, _GROSS, [*_i32_regs(view.gross_g), view.status])
        await scale.async_setValues(unit, _HOLDING, _FILL_STATE, [view.fill_state])
        if not accept_scale:
            # Writes that reached a disconnected indicator never happened.
            await scale.async_setValues(
                unit,
                _HOLDING,
                _TARGET,
                [
                    *_i32_regs(round(st.target_kg * 1000)),
                    *_i32_regs(round(st.preact_kg * 1000)),
                    st.fill_cmd,
                ],
            )
        valve, unit = self._server("valve"), self._unit("valve")
        valve_view = st.valve_view()
        await valve.async_setValues(unit, _COILS, 0, [valve_view.permit])
        await valve.async_setValues(unit, _DISCRETE, 0, [valve_view.feedback_open])
        if not accept_valve:
            await valve.async_setValues(unit, _HOLDING, _HEARTBEAT, [st.heartbeat, st.watchdog_ms])


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
