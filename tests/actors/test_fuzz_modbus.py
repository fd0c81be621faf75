"""Fuzzing the Modbus side: whatever a device or its line answers — garbage, a cut frame, an exception
response, another unit's or another transaction's reply, a wrong function code or byte count — a
request gives the right values or a typed `ModbusError`, and the scale and valve actors count it
and go on (never an exception out of their loops, never a crash of the floor).

Many examples against the framing and the actors over an in-memory device (`ReplayTransport`,
parsed by the same `_read_reply` the real transports use); a few over a real loopback TCP server.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
import trio
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.framer.base import FramerBase
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsResponse, ReadDiscreteInputsResponse, WriteSingleCoilResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterResponse,
)

from actors.config import DeviceConfig
from actors.device_link import Teller
from actors.link import (
    LinkClosed,
    ModbusDevice,
    ModbusError,
    ModbusExceptionResponse,
    ModbusMalformed,
    TcpTransport,
    _read_reply,
)
from actors.registers import TYPES, Register, decode, encode
from actors.scale import ScaleActor
from actors.valve import ValveActor
from domain.messages import PermitOrder, StationInput, ValveStatus, WeightSample
from supervisor.runtime import Latest, PermitGate
from tests.support.strategies import MODBUS_TID, chunked, examples, modbus_replies

UNIT_ID = 1
words = st.integers(0, 0xFFFF)


def _framer(protocol: str) -> FramerBase:
    decoder = DecodePDU(is_server=False)
    return FramerRTU(decoder) if protocol == "rtu" else FramerSocket(decoder)


def right_answer(request: ModbusPDU, data: st.DataObject) -> ModbusPDU:
    """What a sound device answers: reads from any register contents, writes echoed."""
    fc, n = request.function_code, request.count
    if fc in (3, 4):
        values = data.draw(st.lists(words, min_size=n, max_size=n))
        return (ReadHoldingRegistersResponse if fc == 3 else ReadInputRegistersResponse)(registers=values)
    if fc in (1, 2):
        bits = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        bits += [False] * (-len(bits) % 8)
        return (ReadCoilsResponse if fc == 1 else ReadDiscreteInputsResponse)(bits=bits)
    if fc == 5:
        return WriteSingleCoilResponse(address=request.address, bits=request.bits)
    if fc == 6:
        return WriteSingleRegisterResponse(address=request.address, registers=request.registers)
    return WriteMultipleRegistersResponse(address=request.address, count=n)


class ReplayTransport:
    """A device in memory: each request is answered with replies drawn for it (chunked as a line
    may deliver them), then the line ends (`LinkClosed`). `kinds` logs what each request got."""

    def __init__(self, protocol: str, data: st.DataObject, *, requests: int = 1 << 30,
                 good_only: bool = False) -> None:  # fmt: skip
        self.framer = _framer(protocol)
        self.protocol = protocol
        self._data = data
        self.left = requests  # then every request fails as a closed link, and `exhausted` is set
        self.exhausted = trio.Event()
        self.good_only = good_only
        self.kinds: list[list[str]] = []
        self.answers: list[ModbusPDU] = []
        self.calls = 0

    async def exchange(self, request: ModbusPDU, timeout: float, *, urgent: bool = False) -> ModbusPDU:
        await trio.lowlevel.checkpoint()
        self.calls += 1
        if self.left <= 0:
            self.exhausted.set()
            raise LinkClosed("the test's device has no more answers")
        self.left -= 1
        request.transaction_id = MODBUS_TID if self.protocol == "tcp" else 0
        good = right_answer(request, self._data)
        replies = [modbus_replies(self.framer, request, good)] * (1 if self.good_only else 3)
        drawn = [self._data.draw(r) for r in replies[: self._data.draw(st.integers(1, len(replies)))]]
        if self.good_only:
            drawn = [("good", d[1]) for d in drawn if d[0] == "good"] or [("good", _frame(self, good))]
        self.kinds.append([k for k, _ in drawn])
        self.answers.append(good)
        chunks = iter(self._data.draw(chunked(b"".join(b for _, b in drawn))))

        async def receive() -> bytes:
            await trio.lowlevel.checkpoint()
            return next(chunks, b"")  # then end of stream: the device hung up

        return await _read_reply(receive, self.framer, request.dev_id, request.transaction_id)

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def _frame(transport: ReplayTransport, pdu: ModbusPDU) -> bytes:
    pdu.dev_id, pdu.transaction_id = UNIT_ID, MODBUS_TID if transport.protocol == "tcp" else 0
    return transport.framer.buildFrame(pdu)


Call = Callable[[ModbusDevice], Awaitable[Any]]
CALLS: dict[str, tuple[Call, Callable[[ModbusPDU], object]]] = {
    "read_holding": (lambda d: d.read_holding(10, 4), lambda a: list(a.registers)),
    "read_input": (lambda d: d.read_input(0, 2), lambda a: list(a.registers)),
    "read_coils": (lambda d: d.read_coils(0), lambda a: list(a.bits[:1])),
    "read_discrete": (lambda d: d.read_discrete(3, 2), lambda a: list(a.bits[:2])),
    "write_register": (lambda d: d.write_register(1, 500), lambda a: None),
    "write_registers": (lambda d: d.write_registers(10, [0, 29700]), lambda a: None),
    "write_coil": (lambda d: d.write_coil(0, True), lambda a: None),
}


@settings(max_examples=examples(600), deadline=None)
@given(st.data(), st.sampled_from(["tcp", "rtu"]), st.sampled_from(sorted(CALLS)))
async def test_any_reply_gives_the_right_values_or_a_modbus_error(
    data: st.DataObject, protocol: str, call: str
) -> None:
    transport = ReplayTransport(protocol, data)
    do, expected = CALLS[call]
    result: object
    try:
        result = await do(ModbusDevice(transport, UNIT_ID))
    except ModbusError as exc:
        result = exc
    first = transport.kinds[0][0]
    if isinstance(result, ModbusError):
        assert first != "good", f"a sound reply refused: {result!r}"
        assert isinstance(result, ModbusExceptionResponse) or first != "exception"
        return
    right = expected(transport.answers[0])
    if first == "good":
        assert result == right
    if isinstance(right, list):  # whatever the values, as many as asked and of the right type
        assert isinstance(result, list)
        assert len(result) == len(right)
        assert all(type(v) is type(w) for v, w in zip(result, right, strict=True))
        assert all(0 <= v <= 0xFFFF for v in result if isinstance(v, int) and not isinstance(v, bool))
    else:
        assert result is None


def register_types() -> st.SearchStrategy[Register]:
    return st.builds(
        Register,
        kind=st.just("holding"),
        address=st.just(0),
        type=st.sampled_from([t for t in TYPES if t != "bool"]),
        scale=st.sampled_from([Decimal(1), Decimal("0.001"), Decimal("0.5"), Decimal("1e-9")]),
        word_order=st.sampled_from(["big", "little"]),
    )


@given(register_types(), st.lists(words, min_size=2, max_size=2))
def test_any_register_contents_decode_to_a_finite_value_or_a_value_error(
    reg: Register, raw: list[int]
) -> None:
    try:
        value = decode(reg, raw)
    except ValueError:
        assert reg.type == "f32"  # a NaN or an infinity in a float register, nothing else
        return
    assert value.is_finite()
    again = encode(reg, value, clamp=True)  # what the register holds: the same words back
    assert decode(reg, again) == value
    if reg.type != "f32":
        assert again == raw[: reg.width]


@given(register_types(), st.decimals(allow_nan=False, allow_infinity=False))
@example(Register("holding", 0, "f32", Decimal("1e-9")), Decimal("340282356779733642748073463950"))
def test_any_finite_value_encodes_clamped_to_words(reg: Register, value: Decimal) -> None:
    out = encode(reg, value, clamp=True)
    assert len(out) == reg.width
    assert all(0 <= w <= 0xFFFF for w in out)
    assert decode(reg, out).is_finite()


# ---------------------------------------------------------------------------- the actors, in memory


def gross_maps() -> st.SearchStrategy[dict[str, Any]]:
    """The scale's gross register as plants wire it (an f32 indicator included)."""
    return st.fixed_dictionaries({
        "type": st.sampled_from(["i32", "u32", "f32", "i16", "u16"]),
        "word_order": st.sampled_from(["big", "little"]),
    })  # fmt: skip


async def run_until_exhausted(actor: ScaleActor | ValveActor, exhausted: trio.Event) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)  # (an exception out of the actor's loop fails the test here)
            await exhausted.wait()
            nursery.cancel_scope.cancel()


@settings(max_examples=examples(150), deadline=None)
@given(st.data(), st.sampled_from(["tcp", "rtu"]), gross_maps(), st.integers(1, 8), st.booleans())
async def test_the_scale_actor_makes_every_poll_a_sample_or_a_counted_error(
    data: st.DataObject, protocol: str, gross: dict[str, Any], polls: int, good_only: bool
) -> None:
    transport = ReplayTransport(protocol, data, requests=polls, good_only=good_only)
    told: list[StationInput] = []
    config = DeviceConfig(poll_hz=1000.0, lost_after=100, register_map={"gross": gross})
    actor = ScaleActor(config, transport, Teller(told.append))
    await run_until_exhausted(actor, transport.exhausted)
    assert all(isinstance(m, WeightSample) for m in told)  # (never lost: lost_after is not reached)
    errors = actor.health.errors
    assert len(told) + errors.total() == transport.calls  # one read per poll
    assert all(m.gross_kg.is_finite() for m in told if isinstance(m, WeightSample))
    if good_only:  # a sound device: a sample for every poll, but for a float register's NaN
        assert len(told) + errors["malformed"] == polls
        assert errors["malformed"] == 0 or gross["type"] == "f32"


@settings(max_examples=examples(150), deadline=None)
@given(st.data(), st.sampled_from(["tcp", "rtu"]), st.integers(1, 16))
async def test_the_valve_actor_reports_what_it_reads_or_counts_an_error(
    data: st.DataObject, protocol: str, requests: int
) -> None:
    transport = ReplayTransport(protocol, data, requests=requests)
    told: list[StationInput] = []
    gate, orders = PermitGate("S1"), Latest[PermitOrder]()
    gate.actor_state("scale", True)
    gate.actor_state("valve", True)
    orders.set(PermitOrder(True, "fill"))
    actor = ValveActor(DeviceConfig(unit_id=UNIT_ID, watchdog_ms=4, lost_after=100), transport,
                       Teller(told.append), orders, gate)  # fmt: skip
    await run_until_exhausted(actor, transport.exhausted)
    assert all(isinstance(m, ValveStatus) for m in told)
    assert actor.health.errors["closed"] >= 1  # it went on to the end of the device's answers
    assert actor.written is None  # after an error the permit is unknown: written again, never assumed


class Answers:
    """A device that answers with the given PDUs in turn, then hangs up."""

    def __init__(self, *answers: ModbusPDU) -> None:
        self._answers = list(answers)
        self.exhausted = trio.Event()

    async def exchange(self, request: ModbusPDU, timeout: float, *, urgent: bool = False) -> ModbusPDU:
        await trio.lowlevel.checkpoint()
        if not self._answers:
            self.exhausted.set()
            raise LinkClosed("no more answers")
        answer = self._answers.pop(0)
        answer.dev_id = request.dev_id
        return answer

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


NAN_F32 = [0x7FC0, 0]


async def test_a_float_indicator_reading_nan_is_a_malformed_reply_not_a_crash() -> None:
    """Found by the fuzzing: a NaN in an f32 gross register raised ValueError out of the scale
    actor's loop (a crash and restart per poll, then the station out of service) instead of
    counting as a bad reply like any other."""
    told: list[StationInput] = []
    config = DeviceConfig(poll_hz=1000.0, register_map={"gross": {"type": "f32", "scale": 1}})
    nan = ReadHoldingRegistersResponse(registers=[*NAN_F32, *[0] * 14])
    good = ReadHoldingRegistersResponse(registers=[0x4178, 0, 1, *[0] * 13])  # 15.5 kg, stable
    transport = Answers(nan, good)
    actor = ScaleActor(config, transport, Teller(told.append))
    await run_until_exhausted(actor, transport.exhausted)
    assert actor.health.errors["malformed"] == 1
    assert [m.gross_kg for m in told if isinstance(m, WeightSample)] == [Decimal("15.5")]


@pytest.mark.parametrize("read", ["read_coils", "read_discrete"])
async def test_a_bit_reply_with_fewer_bits_than_asked_is_malformed(read: str) -> None:
    """Found by the fuzzing: a coil or discrete-input reply with byte count 0 gave the valve actor
    an empty list, and `[0]` of it raised IndexError out of its loop."""
    empty = (ReadCoilsResponse if read == "read_coils" else ReadDiscreteInputsResponse)(bits=[])
    device = ModbusDevice(Answers(empty), UNIT_ID)
    with pytest.raises(ModbusMalformed, match="bits"):
        await getattr(device, read)(0, 1)


# ---------------------------------------------------------------------------- over real TCP


# Replies that can never pass for the right one (garbage, a changed length or data byte might).
CERTAIN_ERRORS = ("exception", "unit", "tid", "function", "truncated", "empty", "protocol", "closed")


@st.composite
def bad_answers(draw: st.DrawFn) -> tuple[str, bytes, str, list[int]]:
    """(kind, frame, how, chunk sizes): drawn before the run, for the request the scale actor sends
    (its transaction id is put in when the request comes: timing must not change what is drawn)."""
    request = ReadHoldingRegistersRequest(address=0, count=16, dev_id=UNIT_ID)
    request.transaction_id = MODBUS_TID
    good = ReadHoldingRegistersResponse(registers=[0] * 16)
    kind, frame = draw(modbus_replies(FramerSocket(DecodePDU(is_server=False)), request, good))
    how = draw(st.sampled_from(["send", "send", "send then close", "close"]))
    return kind, frame, how, [len(c) for c in draw(chunked(frame))]


class ScriptedDevice:
    """A Modbus TCP device on loopback: the first requests get the scripted answers, the rest sound
    answers from its registers (a device that misbehaved for a while, then recovers)."""

    def __init__(self, script: list[tuple[str, bytes, str, list[int]]], registers: list[int]) -> None:
        self.script = list(script)
        self.registers = registers
        self.framer = FramerSocket(DecodePDU(is_server=True))
        self.kinds: list[str] = []
        self.closes = 0  # connections it closed: the request after one may fail too (a closed link)

    async def serve(self, stream: trio.SocketStream) -> None:
        buffer = b""
        async with stream:
            while True:
                try:
                    chunk = await stream.receive_some()
                except trio.BrokenResourceError:
                    return
                if not chunk:
                    return
                buffer += chunk
                used, request = self.framer.handleFrame(buffer, 0, 0)
                buffer = buffer[used:]
                if request is not None and not await self._answer(stream, request):
                    return

    async def _answer(self, stream: trio.SocketStream, request: ModbusPDU) -> bool:
        if not self.script:
            good = ReadHoldingRegistersResponse(
                registers=self.registers[request.address : request.address + request.count]
            )
            good.dev_id, good.transaction_id = request.dev_id, request.transaction_id
            self.kinds.append("good")
            await stream.send_all(self.framer.buildFrame(good))
            return True
        kind, frame, how, sizes = self.script.pop(0)
        self.kinds.append(kind if how != "close" else "closed")
        self.closes += how != "send"
        actual = request.transaction_id.to_bytes(2, "big")
        if kind == "tid" and frame[:2] == actual:  # still another transaction's reply
            frame = ((request.transaction_id ^ 0x8000) or 1).to_bytes(2, "big") + frame[2:]
        elif kind not in ("tid", "garbage") and frame[:2] == MODBUS_TID.to_bytes(2, "big"):
            frame = actual + frame[2:]
        try:
            if how != "close":
                at = 0
                for size in sizes:
                    await stream.send_all(frame[at : at + size])
                    at += size
        except trio.BrokenResourceError:
            return False
        return how == "send"


@settings(max_examples=examples(8), deadline=None)
@given(st.lists(bad_answers(), min_size=1, max_size=4))
async def test_the_scale_actor_over_tcp_counts_bad_replies_and_recovers(
    script: list[tuple[str, bytes, str, list[int]]],
) -> None:
    registers = [0, 15500, 1, *[0] * 13]  # gross 15.500 kg, stable
    device = ScriptedDevice(script, registers)
    recovered = trio.Event()

    def tell(message: StationInput) -> None:
        if isinstance(message, WeightSample) and message.gross_kg == Decimal("15.5"):
            recovered.set()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, device.serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        config = DeviceConfig(port=port, poll_hz=200.0, timeout_s=0.05, lost_after=100)
        actor = ScaleActor(config, TcpTransport("127.0.0.1", port), Teller(tell))
        await nursery.start(actor.run)
        with trio.fail_after(10):
            await recovered.wait()  # the link continues: the device's sound answers are samples again
        nursery.cancel_scope.cancel()
    errors = actor.health.errors.total()
    assert errors <= len(script) + device.closes
    assert errors >= sum(1 for k in device.kinds if k in CERTAIN_ERRORS)


@pytest.mark.parametrize("protocol", ["tcp", "rtu"])
def test_the_framers_reject_what_they_cannot_frame(protocol: str) -> None:
    """The test's own device and framing are sound: a right answer parses as itself."""
    framer = _framer(protocol)
    answer = ReadHoldingRegistersResponse(registers=[1, 2, 3], dev_id=UNIT_ID)
    answer.transaction_id = MODBUS_TID if protocol == "tcp" else 0
    used, pdu = framer.handleFrame(framer.buildFrame(answer), UNIT_ID, answer.transaction_id)
    assert pdu is not None
    assert list(pdu.registers) == [1, 2, 3]
    assert used > 0


async def test_a_tcp_reply_with_transaction_id_zero_is_not_taken_for_the_requests() -> None:
    """pymodbus lets id 0 through for any request: a forged reply (60.000 kg) must not be a reading."""
    registers = [0, 15500, 1, *[0] * 13]
    forged = ReadHoldingRegistersResponse(registers=[0, 60000, 1])
    forged.dev_id, forged.transaction_id = 1, 0
    framer = FramerSocket(DecodePDU(is_server=True))

    async def serve(stream: trio.SocketStream) -> None:
        async with stream:
            buffer = b""
            while chunk := await stream.receive_some():
                buffer += chunk
                used, request = framer.handleFrame(buffer, 0, 0)
                buffer = buffer[used:]
                if request is None:
                    continue
                forged.dev_id = request.dev_id
                good = ReadHoldingRegistersResponse(
                    registers=registers[request.address : request.address + request.count]
                )
                good.dev_id, good.transaction_id = request.dev_id, request.transaction_id
                await stream.send_all(framer.buildFrame(forged) + framer.buildFrame(good))

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        transport = TcpTransport("127.0.0.1", port)
        request = ReadHoldingRegistersRequest(address=0, count=3, dev_id=1)
        reply = await transport.exchange(request, timeout=5)
        assert reply.registers == registers[:3]  # the real answer, not the forged one before it
        await transport.aclose()
        nursery.cancel_scope.cancel()
