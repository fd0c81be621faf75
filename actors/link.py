"""A Modbus client on trio: pymodbus's own framers and PDUs over trio streams (docs/architecture.md, Modbus).

pymodbus's clients are asyncio-only; its framer + PDU classes are not, so the bytes are built and
parsed by pymodbus and moved by trio: every call is cancellable, no threads, TCP and RTU alike.

- `TcpTransport`: one TCP connection (Modbus TCP, MBAP header), reconnected on the next call after
  any error — after a timeout or a malformed reply the byte stream cannot be trusted to be in step.
- `RtuBus`: one RS-485 line (a serial port) shared by every device on it: one request at a time
  (a lock), the 3.5-character silent interval kept between frames, and after a timeout a gap and
  a flush of whatever arrives late, so a late reply is never taken for the next request's (RTU
  frames carry no transaction id).
- `ModbusDevice`: one unit id on a transport, with the reads and writes the actors need. Writes
  are never retried here (the caller reads back and compares); errors are typed so the actors can
  count timeouts, exception responses and malformed frames apart.
"""

from __future__ import annotations

import os
import termios
import time
from collections.abc import Sequence
from typing import Protocol

import serial
import trio
from pymodbus.exceptions import ModbusException as PymodbusError
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.framer.base import FramerBase
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest, WriteSingleCoilRequest
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

__all__ = [
    "LinkClosed",
    "ModbusDevice",
    "ModbusError",
    "ModbusExceptionResponse",
    "ModbusMalformed",
    "ModbusTimeout",
    "RtuBus",
    "TcpTransport",
    "Transport",
]


class ModbusError(Exception):
    """A request that got no usable answer."""


class ModbusTimeout(ModbusError):
    pass


class ModbusMalformed(ModbusError):
    pass


class ModbusExceptionResponse(ModbusError):
    def __init__(self, function_code: int, code: int) -> None:
        super().__init__(f"exception response {code} to function {function_code}")
        self.code = code


class LinkClosed(ModbusError):
    pass


class Transport(Protocol):
    async def exchange(self, request: ModbusPDU, timeout: float, *, urgent: bool = False) -> ModbusPDU: ...

    async def aclose(self) -> None: ...


def _decoder() -> DecodePDU:
    return DecodePDU(is_server=False)


async def _read_reply(receive: object, framer: FramerBase, unit: int, tid: int) -> ModbusPDU:
    """Read until the framer yields the reply to this request (the caller bounds the time).

    Over TCP a reply must carry the request's transaction id exactly: pymodbus lets a reply with id
    0 through for any request, so a stale or forged reply (id 0) would be taken as this one's
    answer (a weight for the wrong poll). Such a frame is passed over, as is any other id."""
    buffer = b""
    while True:
        data = await receive()  # type: ignore[operator]
        if not data:
            raise LinkClosed("the device closed the connection")
        buffer += data
        while True:
            try:
                used, pdu = framer.handleFrame(buffer, unit, tid)
            except PymodbusError as exc:
                raise ModbusMalformed(f"malformed reply: {exc}") from None
            buffer = buffer[used:]
            if pdu is None:
                break
            if tid == 0 or pdu.transaction_id == tid:
                return pdu
        if len(buffer) > 4 * framer.MAX_SIZE:
            raise ModbusMalformed("no valid frame in the reply bytes")


class TcpTransport:
    def __init__(self, host: str, port: int, *, connect_timeout: float = 2.0) -> None:
        self.host = host
        self.port = port
        self._connect_timeout = connect_timeout
        self._stream: trio.SocketStream | None = None
        self._framer = FramerSocket(_decoder())
        # The last transaction id sent (1-65535, then round again). Not itertools.cycle: it keeps a
        # copy of every id of its first round, 2.4 MB a connection grown over its first 65,535
        # requests (found by the soak run: ~1 MB a minute at 32 stations for the first hour).
        self._tid = 0
        self._lock = trio.Lock()  # one request in flight per connection

    async def exchange(self, request: ModbusPDU, timeout: float, *, urgent: bool = False) -> ModbusPDU:
        del urgent  # (one device per connection: nobody to overtake)
        async with self._lock:
            try:
                if self._stream is None:
                    with trio.fail_after(self._connect_timeout):
                        self._stream = await trio.open_tcp_stream(self.host, self.port)
                stream = self._stream
                self._tid = self._tid % 0xFFFF + 1
                request.transaction_id = self._tid
                with trio.fail_after(timeout):
                    await stream.send_all(self._framer.buildFrame(request))
                    return await _read_reply(stream.receive_some, self._framer, request.dev_id,
                                             request.transaction_id)  # fmt: skip
            except trio.TooSlowError:
                await self.aclose()
                raise ModbusTimeout(f"no answer from {self.host}:{self.port} within {timeout} s") from None
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                await self.aclose()
                raise LinkClosed(f"{self.host}:{self.port}: {exc}") from None
            except BaseException:  # a malformed reply, or cancelled mid-request: out of step either way
                await self.aclose()
                raise

    async def aclose(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with trio.CancelScope(shield=True):
                await stream.aclose()


_SPIN_S = 1e-3  # the part of an RTU inter-frame gap not left to the millisecond timer


class RtuBus:
    """One RS-485 line: every device on it goes through here, one request at a time."""

    def __init__(self, port: str, baudrate: int = 19200, parity: str = "N") -> None:
        self.port = port
        self.baudrate = baudrate
        self.parity = parity
        # 3.5 characters of 11 bits; above 19,200 baud the spec fixes it at 1.75 ms.
        self.gap_s = 1.75e-3 if baudrate > 19200 else 38.5 / baudrate
        self._spin_s = _SPIN_S if baudrate > 19200 else 0.0
        self._serial: serial.Serial | None = None
        self._framer = FramerRTU(_decoder())
        self._lock = trio.Lock()
        self._urgent = 0  # urgent requests waiting for the line
        self._last_activity = 0.0
        self._received_at = 0.0  # when the last bytes were read off the line

    def _open(self) -> serial.Serial:
        if self._serial is None:
            ser = serial.Serial(self.port, self.baudrate, parity=self.parity, timeout=0, write_timeout=0)
            fd = ser.fileno()
            # pyserial leaves VMIN=0, where "no data yet" reads as b"" (a false end of file):
            # VMIN=1 on a non-blocking fd makes it EAGAIN, and b"" a real hang-up.
            attrs = termios.tcgetattr(fd)
            attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            os.set_blocking(fd, False)
            termios.tcflush(fd, termios.TCIOFLUSH)
            self._serial = ser
        return self._serial

    async def _receive(self) -> bytes:
        fd = self._open().fileno()
        while True:
            try:
                data = os.read(fd, 512)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(fd)
            else:
                self._received_at = trio.current_time()
                return data

    async def _send(self, frame: bytes) -> None:
        fd = self._open().fileno()
        view = memoryview(frame)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(fd)

    def _flush_input(self) -> None:
        fd = self._open().fileno()
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass

    async def _turn(self, urgent: bool) -> None:
        """Take the line. Urgent requests (the valve's heartbeat and permit) go before any waiting
        poll, so a scale that times out again and again cannot starve the valve's watchdog."""
        if urgent:
            self._urgent += 1
            try:
                await self._lock.acquire()
            finally:
                self._urgent -= 1
            return
        while True:
            await self._lock.acquire()
            if not self._urgent:
                return
            self._lock.release()  # an urgent request is waiting: let it go first
            await trio.lowlevel.checkpoint()

    async def exchange(self, request: ModbusPDU, timeout: float, *, urgent: bool = False) -> ModbusPDU:
        await self._turn(urgent)
        try:
            return await self._exchange(request, timeout)
        finally:
            self._lock.release()

    async def _exchange(self, request: ModbusPDU, timeout: float) -> ModbusPDU:
        replied_at: float | None = None
        try:
            frame = self._framer.buildFrame(request)  # (before the gap: it is the line's idle time)
            await self._gap()
            self._flush_input()
            await self._send(frame)
            with trio.fail_after(timeout):
                reply = await _read_reply(self._receive, self._framer, request.dev_id, 0)
        except trio.TooSlowError:
            # A late reply must not be read as the next request's: wait, then discard it.
            await trio.sleep(max(self.gap_s * 4, 0.01))
            self._flush_input()
            raise ModbusTimeout(
                f"no answer from unit {request.dev_id} on {self.port} within {timeout} s"
            ) from None
        except OSError as exc:
            self._close_now()
            raise LinkClosed(f"{self.port}: {exc}") from None
        else:
            # The gap runs from the reply's last bytes as read, not from when it was parsed.
            replied_at = self._received_at
            return reply
        finally:
            self._last_activity = replied_at if replied_at is not None else trio.current_time()

    async def _gap(self) -> None:
        """Keep the inter-frame gap since the line's last activity, and not much more: trio's
        timer wakes in whole milliseconds (epoll), so a 1.75 ms sleep takes ~2.1 ms, 10 % of a
        read at 115,200 baud. Above 19,200 baud the gap's last millisecond is waited out on the
        loop, yielding to every other task at each turn: at most 1 ms of a core a read, and only
        on a line busy enough that a request waits for the gap at all. (At 19,200 baud and below
        the timer's excess, ~1 ms, is 3-4 % of a ~30 ms read, and the simulated floors' lines run
        there: not worth a core's share on every busy line; docs/benchmarks.md.)"""
        deadline = self._last_activity + self.gap_s
        await trio.sleep_until(deadline - self._spin_s)
        # The rest against the wall clock: it ends even under a test's virtual clock, which does
        # not move while a task is runnable.
        end = time.perf_counter() + (deadline - trio.current_time())
        while time.perf_counter() < end:
            await trio.lowlevel.checkpoint()

    def _close_now(self) -> None:
        if self._serial is not None:
            ser, self._serial = self._serial, None
            ser.close()

    async def aclose(self) -> None:
        """Close the port (it reopens on the next request); waits for a request in flight on it."""
        async with self._lock:
            self._close_now()


def _bits(reply: ModbusPDU, count: int) -> list[bool]:
    # pymodbus unpacks whatever bytes follow the byte count: a reply with fewer bytes than asked
    # (byte count 0, a cut frame) would give fewer bits, and the valve actor's `[0]` an IndexError
    # out of its loop. It is a malformed reply, as a short register read is (found by fuzzing).
    if len(reply.bits) < count:
        raise ModbusMalformed(f"{len(reply.bits)} bits in the reply, {count} asked")
    return [bool(b) for b in reply.bits[:count]]


class ModbusDevice:
    """One device (unit id) on a transport."""

    def __init__(
        self, transport: Transport, unit: int, *, timeout: float = 0.2, urgent: bool = False
    ) -> None:
        self.transport = transport
        self.unit = unit
        self.timeout = timeout
        self.urgent = urgent  # on a shared line, go before the polls (the valve)

    async def _call(self, request: ModbusPDU) -> ModbusPDU:
        reply = await self.transport.exchange(request, self.timeout, urgent=self.urgent)
        if reply.isError():
            raise ModbusExceptionResponse(request.function_code, reply.exception_code)
        if reply.function_code != request.function_code:
            raise ModbusMalformed(f"reply to function {reply.function_code}, not {request.function_code}")
        return reply

    async def read_holding(self, address: int, count: int) -> list[int]:
        reply = await self._call(ReadHoldingRegistersRequest(address=address, count=count, dev_id=self.unit))
        if len(reply.registers) != count:
            raise ModbusMalformed(f"{len(reply.registers)} registers in the reply, {count} asked")
        return list(reply.registers)

    async def read_input(self, address: int, count: int) -> list[int]:
        reply = await self._call(ReadInputRegistersRequest(address=address, count=count, dev_id=self.unit))
        if len(reply.registers) != count:
            raise ModbusMalformed(f"{len(reply.registers)} registers in the reply, {count} asked")
        return list(reply.registers)

    async def read_words(self, kind: str, address: int, count: int) -> list[int]:
        """Holding or input registers, as a register map names them."""
        if kind == "input":
            return await self.read_input(address, count)
        return await self.read_holding(address, count)

    async def read_coils(self, address: int, count: int = 1) -> list[bool]:
        reply = await self._call(ReadCoilsRequest(address=address, count=count, dev_id=self.unit))
        return _bits(reply, count)

    async def read_discrete(self, address: int, count: int = 1) -> list[bool]:
        reply = await self._call(ReadDiscreteInputsRequest(address=address, count=count, dev_id=self.unit))
        return _bits(reply, count)

    async def write_register(self, address: int, value: int) -> None:
        await self._call(WriteSingleRegisterRequest(address=address, registers=[value], dev_id=self.unit))

    async def write_registers(self, address: int, values: Sequence[int]) -> None:
        await self._call(
            WriteMultipleRegistersRequest(address=address, registers=list(values), dev_id=self.unit)
        )

    async def write_coil(self, address: int, value: bool) -> None:
        await self._call(WriteSingleCoilRequest(address=address, bits=[value], dev_id=self.unit))
