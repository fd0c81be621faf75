"""Hypothesis strategies shared by the tests (one place, as attrs keeps them)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU
from pymodbus.framer.base import FramerBase
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsResponse, ReadDiscreteInputsResponse, WriteSingleCoilResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterResponse,
)

from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.labels import LabelRule
from domain.models import DEFAULT_MODELS

UNIT = "HY0012"

code_tails = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=4, max_size=20)
own_codes = code_tails.map(lambda tail: UNIT + tail)
foreign_codes = (
    st.tuples(
        st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=2, max_size=2),
        st.text(alphabet="0123456789", min_size=4, max_size=4),
        code_tails,
    )
    .map("".join)
    .filter(lambda c: not c.startswith(UNIT))
)

dates = st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2060, 12, 31))
tares = st.decimals(min_value=Decimal("1.0"), max_value=Decimal("80.0"), places=1)
models = st.sampled_from(sorted(DEFAULT_MODELS))


@st.composite
def archives(draw: st.DrawFn, owner: str = UNIT) -> CylinderArchive:
    manufactured = draw(dates)
    last = draw(st.dates(min_value=manufactured, max_value=dt.date(2060, 12, 31)))
    return CylinderArchive(
        code=draw(own_codes),
        owner=owner,
        model=draw(models),
        tare_kg=draw(tares),
        manufactured=manufactured,
        last_inspection=last,
        next_inspection=draw(st.none() | dates),
        scrap_date=draw(st.none() | dates),
        status=draw(st.sampled_from(list(CylinderStatus))),
        manufacturer=draw(st.sampled_from(["", "湖南某钢瓶制造有限公司"])),
        serial=draw(st.sampled_from(["", "A19-004417"])),
        volume_l=draw(st.none() | st.just(Decimal("35.5"))),
    )


@st.composite
def operators(draw: st.DrawFn) -> Operator:
    return Operator(
        id=draw(st.text(alphabet="0123456789ABCDEFOP", min_size=2, max_size=12)),
        name=draw(st.sampled_from(["张三", "李四", "Wang Wu"])),
        certificate_expires=draw(dates),
        certificate_no=draw(st.sampled_from(["", "TS2026-0042"])),
    )


# Characters a label must never carry: C0/C1 controls, DEL, zero-width and bidi format characters.
control_chars = st.characters(categories=("Cc", "Cf"))


# -------------------------------------------------------------------------- fuzzing (tests/*/test_fuzz_*.py)
# Inputs from outside the floor: what a scanner reads, what a device answers, what a console sends,
# what a person writes in a TOML file. Valid-looking inputs are mixed in on purpose, so that a
# property also sees the paths a bad input can reach only by looking almost right.


def examples(fast: int) -> int:
    """A fuzz property's example count: `fast` in `make test`, scaled up with the long profile
    (`HYPOTHESIS_PROFILE=long`, registered in conftest.py), which raises max_examples from 100."""
    return max(1, fast * settings().max_examples // 100)


_TEXT_NOISE = st.sampled_from(["\x00", "\x1b[31m", "\u200b", "\u202e", "\ufeff", "\ud800", "\x85", "\t",
                               " ", "\r", "\n", "%00", "%0A", "?", "/", "#", "[", "%", "钢瓶"])  # fmt: skip
label_urls = st.builds(
    lambda scheme, host, code, how: f"{scheme}://{host}/" + (f"c?code={code}" if how else f"c/{code}"),
    st.sampled_from(["http", "https", "HTTPS", "ftp", "http:"]),
    st.sampled_from(["hy.example", "[::1", "a:b:c", "x.y:99999", ""]),
    own_codes | foreign_codes | st.text(max_size=12),
    st.booleans(),
)
label_texts = st.one_of(
    own_codes, foreign_codes, label_urls, st.text(), st.text(max_size=600),
    st.lists(st.one_of(own_codes, _TEXT_NOISE, st.text(max_size=4)), max_size=8).map("".join),
)  # fmt: skip
label_rules = st.builds(
    LabelRule,
    unit_code=st.sampled_from([UNIT, "HY", "A1"]),
    pattern=st.sampled_from(
        [None, r"(?P<code>HY\w+)", r"https?://[^?]*\?id=(?P<code>.*)", r"(?P<code>x)?.*"]
    ),
    query_param=st.sampled_from(["code", "id", ""]),
    max_length=st.integers(1, 300),
)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


# A scanner line: labels, badges, garbage, over-long runs, all terminators in any mix.
scanner_pieces = st.one_of(
    label_texts.map(_utf8), st.sampled_from([b"OP01", b"OP0123456789ABCDEF", b"\r", b"\n", b"\r\n"]),
    st.binary(max_size=64), st.binary(min_size=1, max_size=4).map(lambda b: b * 200),
)  # fmt: skip
scanner_streams = st.lists(scanner_pieces, max_size=12).map(b"".join)


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` as the reads of a line may split it: anywhere, also inside a character or a CR LF."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=8)))
    bounds = [0, *(c for c in cuts if c < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# JSON values, for console messages: any shape, any text (also lone surrogate escapes), any number.
json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(["S1", "S9", "", "x" * 70, "\ud800", "HY00120000123", "OP01", "<b>[red]x[/red]</b>"]),
)  # fmt: skip


def nested(leaves: st.SearchStrategy[object], size: int, max_leaves: int) -> st.SearchStrategy[object]:
    """Lists and tables of `leaves`, nested."""

    def extend(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
        return st.lists(inner, max_size=size) | st.dictionaries(st.text(max_size=8), inner, max_size=size)

    return st.recursive(leaves, extend, max_leaves=max_leaves)


json_values = nested(json_leaves, 4, 16)
COMMAND_NAMES = ("pause", "resume", "stop", "start", "check", "ack", "shelve", "restart", "out_of_service",
                 "return_to_service", "snapshot", "nope", "")  # fmt: skip
ARG_NAMES = ("station", "cylinder", "phase", "result", "items", "alarm_id", "minutes", "target")


@st.composite
def console_objects(draw: st.DrawFn) -> object:
    """A message shaped like the protocol's, each field right, wrong or missing."""
    obj: dict[str, object] = {}
    if draw(st.booleans()):
        obj["type"] = draw(st.sampled_from(["command", "hello", "event", "", None]) | json_leaves)
    if draw(st.booleans()):
        obj["id"] = draw(st.integers() | st.text(max_size=8) | json_values)
    if draw(st.booleans()):
        obj["command"] = draw(st.sampled_from(COMMAND_NAMES) | json_leaves)
    if draw(st.booleans()):
        arg_values = json_values | st.sampled_from(
            ["S1", "pre", "post", "pass", "fail", "S1.scale", 5, 0, 481]
        )
        obj["args"] = draw(st.dictionaries(st.sampled_from(ARG_NAMES) | st.text(max_size=6), arg_values,
                                           max_size=5) | json_values)  # fmt: skip
    if draw(st.booleans()):
        obj.update({"v": draw(st.just(1) | json_leaves), "token": draw(st.text(max_size=8) | json_leaves)})
    return obj


console_texts = st.one_of(
    console_objects().map(json.dumps), json_values.map(json.dumps), st.text(max_size=80),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(['{"type":"command","id":"\\ud800","command":"pause","args":{"station":"S1"}}',
                     '{"type":"command","id":1,"command":"pause","args":{"station":"\\udfff"}}',
                     '{"type":"command","id":1e999,"command":"snapshot"}', "NaN", '{"type": NaN}',
                     '{"type":"command","id":' + "9" * 5000 + ',"command":"snapshot"}']),
)  # fmt: skip


# TOML values (what tomllib hands a loader): every type a key may be given by mistake, the numbers
# no setting can use (nan, inf, huge, negative), and nesting deeper than any loader expects.
toml_leaves = st.one_of(
    st.text(max_size=12), st.sampled_from(["", "tcp", "rtu", "S1", "HY0012", "YSP35.5", "(", "\x00"]),
    st.integers(), st.integers(-2, 70000), st.floats(), st.sampled_from([0.0, -0.0, 1e-400, 1e308, 0.5]),
    st.booleans(), st.dates(), st.datetimes(), st.times(),
)  # fmt: skip
toml_values = nested(toml_leaves, 3, 8)


def _paths(doc: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every place in a document: table keys and array entries, the tables' own places included."""
    out: list[tuple[object, ...]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, object]) -> dict[str, object]:
    """`doc` with a few mistakes: a value replaced, a key dropped or misspelt, an entry doubled."""
    doc = _copy(doc)  # type: ignore[assignment]
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent: object = doc
        for step in parent_path:
            parent = parent[step]  # type: ignore[index]
        action = draw(st.sampled_from(["replace", "replace", "drop", "rename", "double", "nest"]))
        if action == "replace":
            parent[key] = draw(toml_values)  # type: ignore[index]
        elif action == "nest":
            parent[key] = draw(st.integers(1, 400).map(_deep))  # type: ignore[index]
        elif action == "drop" and isinstance(parent, dict):
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(key)
        elif action == "double" and isinstance(parent, list):
            parent.append(_copy(parent[key]))  # type: ignore[index]
    return doc


def _copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


# Modbus replies (actors/link.py): the right answer, and every way a device or a line gets it wrong.
MODBUS_TID = 7  # the transaction id the tests' transports give each request


def _other_answers(request: ModbusPDU) -> list[ModbusPDU]:
    """Well-formed answers to some other request (a wrong function code)."""
    answers: list[ModbusPDU] = [
        ReadHoldingRegistersResponse(registers=[1, 2]), ReadInputRegistersResponse(registers=[3]),
        ReadCoilsResponse(bits=[True] * 8), ReadDiscreteInputsResponse(bits=[False] * 8),
        WriteSingleRegisterResponse(address=1, registers=[5]),
        WriteSingleCoilResponse(address=0, bits=[True]),
        WriteMultipleRegistersResponse(address=0, count=2),
    ]  # fmt: skip
    return [a for a in answers if a.function_code != request.function_code]


def _build(framer: FramerBase, pdu: ModbusPDU, unit: int, tid: int) -> bytearray:
    pdu.dev_id, pdu.transaction_id = unit, tid
    return bytearray(framer.buildFrame(pdu))


def _seal(framer: FramerBase, frame: bytearray) -> bytes:
    """An RTU frame changed inside gets a CRC that fits again (a device that means it)."""
    if isinstance(framer, FramerRTU):
        frame[-2:] = FramerRTU.compute_CRC(bytes(frame[:-2])).to_bytes(2, "big")
    return bytes(frame)


@st.composite
def modbus_replies(
    draw: st.DrawFn, framer: FramerBase, request: ModbusPDU, good: ModbusPDU
) -> tuple[str, bytes]:
    """(kind, bytes): one answer to `request`, of which `good` is the right one."""
    rtu = isinstance(framer, FramerRTU)
    unit, tid = request.dev_id, request.transaction_id
    head = 1 if rtu else 7  # the function code's offset in the frame
    kinds = ["good", "exception", "unit", "function", "truncated", "garbage", "flipped", "data", "empty"]
    kind = draw(st.sampled_from(kinds if rtu else [*kinds, "tid", "protocol", "length"]))
    frame = _build(framer, good, unit, tid)
    if kind == "exception":
        code = draw(st.integers(0, 255))
        frame = _build(framer, ExceptionResponse(request.function_code, code), unit, tid)
    elif kind == "unit":
        frame = _build(framer, good, draw(st.integers(0, 255).filter(lambda u: u != unit)), tid)
    elif kind == "tid":  # (0 is not drawn: pymodbus takes a reply with transaction id 0 for any request)
        frame = _build(framer, good, unit, draw(st.integers(1, 0xFFFF).filter(lambda t: t != tid)))
    elif kind == "function":
        frame = _build(framer, draw(st.sampled_from(_other_answers(request))), unit, tid)
    elif kind == "truncated":
        frame = frame[: draw(st.integers(0, len(frame) - 1))]
    elif kind == "garbage":
        frame = bytearray(draw(st.binary(max_size=300)))
    elif kind == "flipped":  # a bit error on the line: no CRC fix
        at = draw(st.integers(0, len(frame) - 1))
        frame[at] ^= draw(st.integers(1, 255))
    elif kind == "data":  # a byte count, value or address the device got wrong, framed correctly
        at = draw(st.integers(head + 1, len(frame) - (3 if rtu else 1)))
        frame[at] = draw(st.integers(0, 255))
        frame = bytearray(_seal(framer, frame))
    elif kind == "empty":  # a header, nothing after it
        frame = frame[: head + 1]
        frame = bytearray(_seal(framer, frame + b"\0\0") if rtu else frame)
        if not rtu:
            frame[4:6] = (2).to_bytes(2, "big")
    elif kind == "protocol":
        frame[2:4] = draw(st.integers(1, 0xFFFF)).to_bytes(2, "big")
    elif kind == "length":
        frame[4:6] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "big")
    return kind, bytes(frame)
