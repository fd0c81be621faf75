"""Register maps as data: the default maps of docs/devices.md, overridable entry by entry.

A plant wires a real indicator by writing its addresses into `fillfloor.toml`
(`[station.scale.register_map] gross = { address = 100 }`), never by changing code. An entry names
where a value lives (`kind`: holding, input, coil, discrete; `address`), how it is encoded
(`type`: u16, i32, bool; `word_order` of a 32-bit value: big = high word first), and its
`scale` (kg per count for masses). A bad override is refused naming the entry and the problem.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from attrs import evolve, frozen

__all__ = ["DEFAULT_MAPS", "Register", "decode", "encode", "register_map"]

KINDS = ("holding", "input", "coil", "discrete")
TYPES = ("u16", "i16", "u32", "i32", "f32", "bool")


@frozen
class Register:
    kind: str
    address: int
    type: str = "u16"
    scale: Decimal = Decimal(1)
    word_order: str = "big"
    bits: Mapping[str, int] | None = None  # named bits of a u16 status word

    @property
    def width(self) -> int:
        return 2 if self.type in ("u32", "i32", "f32") else 1


_KG = Decimal("0.001")
DEFAULT_MAPS: Mapping[str, Mapping[str, Register]] = {
    "scale": {
        "gross": Register("holding", 0, "i32", _KG),
        "status": Register("holding", 2, "u16", bits={"stable": 0, "overload": 1, "error": 2}),
        "target": Register("holding", 10, "i32", _KG),
        "preact": Register("holding", 12, "i32", _KG),
        "fill_cmd": Register("holding", 14),
        "fill_state": Register("holding", 15),
    },
    "valve": {
        "permit": Register("coil", 0, "bool"),
        "feedback": Register("discrete", 0, "bool"),
        "heartbeat": Register("holding", 0),
        "watchdog_ms": Register("holding", 1),
    },
}


def register_map(
    device: str, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Register]:
    """The device's map with the plant's overrides applied; ValueError names a bad entry."""
    regs = dict(DEFAULT_MAPS[device])
    for name, change in (overrides or {}).items():
        if name not in regs:
            raise ValueError(f"register_map.{name}: unknown entry (known: {', '.join(regs)})")
        if not isinstance(change, Mapping):
            raise TypeError(f"register_map.{name}: must be a table")
        unknown = set(change) - {"kind", "address", "type", "scale", "word_order", "bits"}
        if unknown:
            raise ValueError(f"register_map.{name}: unknown key {sorted(unknown)[0]!r}")
        values = dict(change)
        if "scale" in values:
            values["scale"] = Decimal(str(values["scale"]))
        reg = evolve(regs[name], **values)
        _check(name, reg)
        regs[name] = reg
    return regs


def _check(name: str, reg: Register) -> None:
    where = f"register_map.{name}"
    if reg.kind not in KINDS:
        raise ValueError(f"{where}.kind: must be one of {', '.join(KINDS)}, got {reg.kind!r}")
    if reg.type not in TYPES:
        raise ValueError(f"{where}.type: must be one of {', '.join(TYPES)}, got {reg.type!r}")
    if isinstance(reg.address, bool) or not isinstance(reg.address, int) or not 0 <= reg.address <= 0xFFFF:
        raise ValueError(f"{where}.address: must be an integer 0..65535, got {reg.address!r}")
    if reg.word_order not in ("big", "little"):
        raise ValueError(f"{where}.word_order: must be big or little, got {reg.word_order!r}")
    if not (reg.scale.is_finite() and reg.scale > 0):
        raise ValueError(f"{where}.scale: must be a positive number, got {reg.scale}")
    if (reg.type == "bool") != (reg.kind in ("coil", "discrete")):
        raise ValueError(f"{where}: bool values live in coils or discrete inputs, numbers in registers")


def decode(reg: Register, words: list[int]) -> Decimal:
    """The register's value, scaled (signed types are two's complement; f32 is IEEE 754)."""
    if reg.width == 2:
        hi, lo = (words[0], words[1]) if reg.word_order == "big" else (words[1], words[0])
        raw32 = (hi << 16) | lo
        if reg.type == "f32":
            value = struct.unpack(">f", raw32.to_bytes(4, "big"))[0]
            if not math.isfinite(value):
                raise ValueError(f"not a number in a float register: {value}")
            return Decimal(repr(value)) * reg.scale
        if reg.type == "i32" and raw32 >= 1 << 31:
            raw32 -= 1 << 32
        return raw32 * reg.scale
    raw = words[0]
    if reg.type == "i16" and raw >= 1 << 15:
        raw -= 1 << 16
    return raw * reg.scale


_F32_MAX = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]  # the largest finite float32
_RANGES = {"u16": (0, 0xFFFF), "i16": (-(1 << 15), (1 << 15) - 1), "u32": (0, 0xFFFFFFFF),
           "i32": (-(1 << 31), (1 << 31) - 1)}  # fmt: skip


def encode(reg: Register, value: Decimal, *, clamp: bool = False) -> list[int]:
    """Words to write for `value` (rounded to the register's resolution); ValueError out of range, or
    with `clamp` the nearest value the register holds (as an indicator pins its display at its limits)."""
    if reg.type == "f32":
        # Beyond a float32 struct.pack raised OverflowError, clamp or not (found by fuzzing).
        raw_f = float(value / reg.scale)
        if not abs(raw_f) <= _F32_MAX:
            if not clamp:
                raise ValueError(f"{value} does not fit a f32 register")
            raw_f = math.copysign(_F32_MAX, raw_f)
        raw32 = int.from_bytes(struct.pack(">f", raw_f), "big")
    else:
        raw = int((value / reg.scale).to_integral_value())
        lo_limit, hi_limit = _RANGES[reg.type]
        if clamp:
            raw = min(max(raw, lo_limit), hi_limit)
        elif not lo_limit <= raw <= hi_limit:
            raise ValueError(f"{value} does not fit a {reg.type} register")
        if reg.width == 1:
            return [raw & 0xFFFF]
        raw32 = raw & 0xFFFFFFFF
    hi, lo = raw32 >> 16, raw32 & 0xFFFF
    return [hi, lo] if reg.word_order == "big" else [lo, hi]
