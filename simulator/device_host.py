"""Simulated weighing indicators and permit valves served over real Modbus, many stations at once.

pymodbus's servers are asyncio, so a `DeviceHost` runs its own asyncio loop in its own thread. It
serves every *endpoint* its stations name: a Modbus TCP listener (`TcpEndpoint`; several devices may
share one host:port under different unit ids, as behind a gateway) or an RS-485 bus (`RtuEndpoint`:
every device on it, one pty pair for the floor). Each tick (`tick_hz`) it reads, per station, what
the host wrote, advances the physics (`SimulatedStation`), and writes back what the devices show,
through each device's register map (`simulator.register_faces`); every read and write the host
makes does the same first, so the model is exact at each exchange whatever the tick rate. Calls
from outside (trio or plain threads) reach the loop through `call_soon_threadsafe` and never wait
on it, except `start()` and `stop()`.

Faults (`FaultBoard`, one per station): a disconnected device stays silent (no reply), and a TCP
listener whose every device is disconnected is closed with its connections and reopened on the same
port afterwards (connection refused meanwhile); garbage corrupts every reply; freeze and stuck_open
act inside the model. A device that is disconnected or frozen ignores host writes: the tick puts its
own values back.

RTU: the floor's pty pair and the server's pty pair are joined by a byte relay in the loop, so the
floor opens a tty path (the slave of a pty pair, as with a USB–RS-485 adapter) and pymodbus's own
serial server serves the other pair unchanged. The floor may close and reopen its side as often
as it restarts: the relay puts the line back as it was made each time (`_Relay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import termios
import threading
import tty
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from attrs import define, field, frozen
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import SimDevice

from actors.registers import Register
from simulator.faults import FaultBoard
from simulator.register_faces import ScaleFace, ValveFace, sim_device
from simulator.station_physics import SimulatedStation

__all__ = ["DeviceHost", "DeviceSite", "HostedStation", "ListenError", "RtuEndpoint", "TcpEndpoint"]

# Function codes reserved for user-defined functions (Modbus Application Protocol v1.1b3, §5):
# no standard decoder knows them, so a reply carrying one is malformed for the host.
_UNUSED_FUNCTION_CODES = (0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x64, 0x65, 0x6E)

# A read or write this close after the last catch-up is served from it (a poll reads a few blocks
# in a row; one catch-up serves them all).
_FRESH_ENOUGH_S = 0.005


class _FreshReads:
    """A server's datastore whose reads and writes first bring the physics up to their moment: a
    read answers what the device shows now, and a write (a valve command) takes effect from now, not
    from the last tick. So the model is as exact between ticks as at them, and the tick rate only
    bounds how late a device that nobody reads shows its changes."""

    def __init__(self, inner: Any, catch_up: Callable[[], Awaitable[None]]) -> None:
        self.inner = inner
        self._catch_up = catch_up

    async def async_getValues(self, *args: Any, **kwargs: Any) -> Any:
        await self._catch_up()
        return await self.inner.async_getValues(*args, **kwargs)

    async def async_setValues(self, *args: Any, **kwargs: Any) -> Any:
        await self._catch_up()  # (the next tick takes the write, from the model time of this one)
        return await self.inner.async_setValues(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@frozen
class TcpEndpoint:
    """A Modbus TCP listener. Port 0: a free port of the site's own, chosen at start."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@frozen
class RtuEndpoint:
    """An RS-485 bus, named by the serial port the floor opens for it."""

    name: str
    baudrate: int = 19200

    def __str__(self) -> str:
        return self.name


Endpoint = TcpEndpoint | RtuEndpoint


@frozen
class DeviceSite:
    """Where one simulated device answers, and its register map."""

    endpoint: Endpoint
    unit_id: int  # 0 on TCP: answers any unit id
    registers: Mapping[str, Register]


@define
class HostedStation:
    physics: SimulatedStation
    scale: DeviceSite
    valve: DeviceSite
    faults: FaultBoard = field(factory=FaultBoard)

    @property
    def id(self) -> str:
        return self.physics.station_id


class ListenError(Exception):
    """An endpoint could not be served (port in use, address not on this host, ...)."""

    def __init__(self, endpoint: Endpoint, reason: str) -> None:
        super().__init__(f"{endpoint}: {reason}")
        self.endpoint = endpoint
        self.reason = reason


@define
class _Served:
    """One server and the devices behind it: unit id -> (station, "scale" | "valve")."""

    endpoint: Endpoint
    units: dict[int, tuple[HostedStation, str]] = field(factory=dict)
    server: ModbusTcpServer | ModbusSerialServer | None = None
    address: tuple[str, int] | str | None = None  # TCP (host, port); RTU the floor's tty path
    down: bool = False

    def device_of(self, unit: int) -> tuple[HostedStation, str] | None:
        return self.units.get(unit) or self.units.get(0)


def _group(stations: Sequence[HostedStation]) -> dict[tuple[str, str], _Served]:
    """Each device's server: (station id, "scale" | "valve") -> the endpoint's `_Served`."""
    served: dict[object, _Served] = {}
    sites: dict[tuple[str, str], _Served] = {}
    for st in stations:
        for device, site in (("scale", st.scale), ("valve", st.valve)):
            key: object = site.endpoint
            if isinstance(site.endpoint, TcpEndpoint) and site.endpoint.port == 0:
                key = (st.id, device)  # a free port of its own
            entry = served.setdefault(key, _Served(site.endpoint))
            if site.unit_id in entry.units:
                other, other_device = entry.units[site.unit_id]
                raise ValueError(f"{site.endpoint} unit {site.unit_id}: both {other.id}.{other_device} "
                                 f"and {st.id}.{device}")  # fmt: skip
            entry.units[site.unit_id] = (st, device)
            sites[(st.id, device)] = entry
    return sites


def _why_not_bind(host: str, port: int) -> str:
    """pymodbus reports a failed listen without its cause: bind a plain socket to learn it."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio binds
            probe.bind(infos[0][4])
    except OSError as exc:
        return exc.strerror or str(exc)
    return "cannot listen"


class _Relay:
    """Copies bytes both ways between two pty masters (the floor's bus and the server's port).

    The floor's side is a pty slave that the floor opens and closes (every restart of `fillfloor
    serve`). Nothing else holds it open, so the floor's close shows here as EIO on its master: the
    slave's line settings are then put back as they were made, and the master is probed until the
    floor opens the slave again. Why: a pty takes no parity, so a floor configured for parity E or O
    asks for a setting the pty drops. On the first open the baud rate changes too, and the request
    succeeds; on a reopen nothing it asks for would change, and tcsetattr fails with EINVAL (it
    succeeds only when some requested change was made), which left every RTU station of a restarted
    floor out of service while `fillfloor simulate-devices` ran on.
    """

    _PROBE_S = 0.05  # how often an absent floor's side is looked at

    def __init__(self, loop: asyncio.AbstractEventLoop, floor: int, device: int, floor_path: str,
                 fresh: list[Any]) -> None:  # fmt: skip
        self._loop = loop
        self._floor, self._device = floor, device
        self._floor_path, self._fresh = floor_path, fresh
        self._probe: asyncio.TimerHandle | None = None
        loop.add_reader(device, self._copy, device, floor)
        self._probe_floor()

    def _copy(self, src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: nobody holds the slave side open right now
            if src == self._floor:
                self._floor_left()
            return
        self._forward(data, dst)

    @staticmethod
    def _forward(data: bytes, dst: int) -> None:
        if not data:
            return
        with contextlib.suppress(BlockingIOError, InterruptedError, OSError):
            # A full buffer loses bytes, as an overrun bus would.
            os.write(dst, data)

    def _floor_left(self) -> None:
        self._loop.remove_reader(self._floor)
        self._reset_floor_line()
        self._probe = self._loop.call_later(self._PROBE_S, self._probe_floor)

    def _probe_floor(self) -> None:
        self._probe = None
        try:
            data = os.read(self._floor, 4096)
        except (BlockingIOError, InterruptedError):
            data = b""  # opened again, nothing sent yet
        except OSError:  # still away
            self._probe = self._loop.call_later(self._PROBE_S, self._probe_floor)
            return
        self._forward(data, self._device)
        self._loop.add_reader(self._floor, self._copy, self._floor, self._device)

    def _reset_floor_line(self) -> None:
        # (A floor opening the port at this very moment gets the raw line it asks for anyway.)
        with contextlib.suppress(OSError, termios.error):
            fd = os.open(self._floor_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                termios.tcsetattr(fd, termios.TCSANOW, self._fresh)
            finally:
                os.close(fd)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        for fd in (self._floor, self._device):
            self._loop.remove_reader(fd)


class DeviceHost:
    """The scales and valves of `stations`, served at their sites; see the module docstring."""

    def __init__(self, stations: Sequence[HostedStation], *, tick_hz: float = 200.0, seed: int = 0) -> None:
        if tick_hz <= 0:
            raise ValueError("tick_hz must be > 0")
        self.stations = {st.id: st for st in stations}
        self._by_device = _group(stations)
        # Each server once, in the order of the stations (the order they start in).
        self._served = list({id(s): s for s in self._by_device.values()}.values())
        self._faces = {
            st.id: (ScaleFace(st.scale.registers), ValveFace(st.valve.registers)) for st in stations
        }
        self._tick_s = 1.0 / tick_hz
        self._rng = random.Random(seed)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._fds: list[int] = []
        self._relays: list[_Relay] = []
        self.ticks = 0

    # ------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 10.0) -> None:
        """Start serving in the host's own thread; return once every endpoint listens (blocking,
        briefly). `ListenError` names an endpoint that could not be served."""
        if self._thread is not None:
            raise RuntimeError("already started")
        names = ",".join(self.stations)
        self._thread = threading.Thread(target=self._run, name=f"sim-devices-{names}"[:60], daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulated devices did not start")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            if isinstance(self._error, ListenError):
                raise self._error
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

    def address(self, station: str, device: str) -> tuple[str, int] | str:
        """Where the floor reaches the device: (host, port) on TCP, the tty path of its RTU bus."""
        address = self._by_device[(station, device)].address
        assert address is not None, "not started"
        return address

    # ----------------------------------------------------- commands from any thread, never waiting
    def call(self, station: str, fn: Callable[[SimulatedStation], object]) -> None:
        """Run `fn(physics)` of `station` in the host's loop, between two ticks."""
        if self._loop is None:
            raise RuntimeError("not started")
        self._loop.call_soon_threadsafe(fn, self.stations[station].physics)

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
        self._ticking = asyncio.Lock()
        self._last_tick = self._loop.time()
        try:
            for served in self._served:
                if isinstance(served.endpoint, TcpEndpoint):
                    await self._start_tcp(served, served.endpoint)
                else:
                    await self._start_rtu(served, served.endpoint)
            for st in self.stations.values():
                await self._show(st, undo_scale=True, undo_valve=True)
            self._ready.set()
            await self._tick_forever()
        finally:
            for relay in self._relays:
                relay.close()
            for served in self._served:
                if served.server is not None:
                    await served.server.shutdown()
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._fds.clear()

    def _devices(self, served: _Served) -> list[SimDevice]:
        return [
            sim_device(unit, (st.scale if device == "scale" else st.valve).registers)
            for unit, (st, device) in served.units.items()
        ]

    async def _start_tcp(self, served: _Served, endpoint: TcpEndpoint) -> None:
        server = ModbusTcpServer(
            self._devices(served),
            address=(endpoint.host, endpoint.port),
            trace_packet=self._tracer(served, 6),
        )
        server.context = _FreshReads(server.context, self._catch_up)  # type: ignore[assignment]
        try:
            await server.serve_forever(background=True)
        except RuntimeError:
            raise ListenError(endpoint, _why_not_bind(endpoint.host, endpoint.port)) from None
        port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        # Reopen on the same port after a disconnect fault: re-point the listener at it.
        server.init_setup_connect_listen(endpoint.host, port)
        served.server, served.address = server, (endpoint.host, port)

    async def _start_rtu(self, served: _Served, endpoint: RtuEndpoint) -> None:
        floor_master, floor_slave = os.openpty()
        dev_master, dev_slave = os.openpty()
        fds = [floor_master, floor_slave, dev_master, dev_slave]
        self._fds += [floor_master, dev_master, dev_slave]
        for fd in fds:
            tty.setraw(fd)  # no echo, no line discipline: Modbus RTU is binary
        # The floor's slave is the floor's alone to hold open (its close is seen: see _Relay).
        floor_path, fresh = os.ttyname(floor_slave), termios.tcgetattr(floor_slave)
        os.close(floor_slave)
        os.set_blocking(floor_master, False)
        os.set_blocking(dev_master, False)
        server = ModbusSerialServer(
            self._devices(served),
            framer=FramerType.RTU,
            port=os.ttyname(dev_slave),
            baudrate=endpoint.baudrate,
            trace_packet=self._tracer(served, 0),
        )
        server.context = _FreshReads(server.context, self._catch_up)  # type: ignore[assignment]
        await server.serve_forever(background=True)
        self._relays.append(_Relay(asyncio.get_running_loop(), floor_master, dev_master, floor_path, fresh))
        served.server, served.address = server, floor_path

    def _tracer(self, served: _Served, unit_at: int) -> Callable[[bool, bytes], bytes]:
        """pymodbus's packet hook: silence and corrupt replies as the faults say. `unit_at`: where
        the unit id is in a frame (6 in the MBAP header, 0 on RTU)."""

        def trace(sending: bool, data: bytes) -> bytes:
            if not sending:
                return data
            found = served.device_of(data[unit_at]) if len(data) > unit_at else None
            if found is None:
                # RTU: a unit that is not on this bus stays silent; TCP: pymodbus's exception reply.
                return data if unit_at else b""
            station, device = found
            if station.faults.active(device, "disconnect"):
                return b""
            if station.faults.active(device, "garbage"):
                return self._corrupt(data, unit_at + 1)
            return data

        return trace

    def _corrupt(self, frame: bytes, header: int) -> bytes:
        """A reply that arrives whole but does not decode: a function code no device uses, scrambled data
        (on RTU the CRC no longer matches either)."""
        body = bytes(b ^ self._rng.randrange(1, 256) for b in frame[header + 1 :])
        return frame[:header] + bytes([self._rng.choice(_UNUSED_FUNCTION_CODES)]) + body

    def _site(self, st: HostedStation, device: str) -> tuple[Any, int]:
        """The device's datastore (as the server keeps it, not through the reads that catch up: the
        catching up itself reads and writes it) and its unit id."""
        server = self._by_device[(st.id, device)].server
        assert server is not None
        store = server.context
        return (store.inner if isinstance(store, _FreshReads) else store), (
            st.scale if device == "scale" else st.valve
        ).unit_id

    async def _tick_forever(self) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            await asyncio.sleep(self._tick_s)
            for served in self._served:
                if isinstance(served.endpoint, TcpEndpoint):
                    await self._follow_disconnect(served)
            await self._catch_up()

    async def _catch_up(self) -> None:
        """Advance every station to now. Also run before every read a device answers (`_FreshReads`):
        a real indicator answers with its latest A/D value whatever its host's CPU is doing, while
        this thread's ticks can come late on a loaded machine (the GIL, the process descheduled),
        and after such a stall asyncio serves the waiting request before the late tick: the floor
        would read the same value twice, which is what a frozen indicator looks like."""
        async with self._ticking:
            now = asyncio.get_running_loop().time()
            if now - self._last_tick < min(self._tick_s / 2, _FRESH_ENOUGH_S):
                return
            for st in self.stations.values():
                await self._tick(st, now - self._last_tick)
            self._last_tick = now
            self.ticks += 1

    async def _tick(self, st: HostedStation, dt: float) -> None:
        physics, faults = st.physics, st.faults
        physics.ad_frozen = faults.active("scale", "freeze")
        physics.stuck_open = faults.active("valve", "stuck_open")
        scale_up = not faults.active("scale", "disconnect")
        valve_up = not faults.active("valve", "disconnect")
        physics.valve_ignores_commands = not valve_up or faults.active("valve", "freeze")
        scale_face, valve_face = self._faces[st.id]
        if scale_up:
            await scale_face.take_host_writes(*self._site(st, "scale"), physics)
        await valve_face.take_host_writes(*self._site(st, "valve"), physics)
        physics.tick(dt)
        await self._show(st, undo_scale=not scale_up, undo_valve=physics.valve_ignores_commands)

    async def _show(self, st: HostedStation, *, undo_scale: bool, undo_valve: bool) -> None:
        scale_face, valve_face = self._faces[st.id]
        await scale_face.show(*self._site(st, "scale"), st.physics, undo_host_writes=undo_scale)
        await valve_face.show(*self._site(st, "valve"), st.physics, undo_host_writes=undo_valve)

    async def _follow_disconnect(self, served: _Served) -> None:
        """A listener whose every device is disconnected refuses connections, as a powered-off device."""
        server = served.server
        assert isinstance(server, ModbusTcpServer)
        all_down = all(st.faults.active(device, "disconnect") for st, device in served.units.values())
        if all_down and not served.down:
            served.down = True
            server.close()  # closes the listener and every connection: new ones are refused
        elif not all_down and served.down and await server.listen():
            served.down = False
