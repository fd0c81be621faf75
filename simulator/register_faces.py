"""A simulated station's indicator and valve as their register maps lay them out.

The floor reads and writes a device where its register map (`actors.registers`, with the plant's
overrides from `fillfloor.toml`) says; the simulated device holds every value at that same place,
encoded by the same `encode`/`decode`, so the two sides cannot disagree on an address, a type, a
scale or a word order. A face is the map of one device plus the two moves of a simulator tick:
`take_host_writes` (what the host wrote: target, preact, fill command; permit, heartbeat, watchdog)
and `show` (what the device displays: gross, status, fill state; permit after the watchdog, position
switch). Maps: docs/devices.md.

The datastore is pymodbus's server (`async_getValues` / `async_setValues` by unit id and function
code); values next to each other in one kind of register are read or written in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from pymodbus.simulator import DataType, SimData, SimDevice

from actors.registers import Register, decode, encode
from simulator.station_physics import (
    STATUS_ERROR,
    STATUS_FILL_ACTIVE,
    STATUS_FILL_DONE,
    STATUS_OVERLOAD,
    STATUS_STABLE,
    SimulatedStation,
)

__all__ = ["FUNCTION_CODES", "ScaleFace", "Store", "ValveFace", "sim_device"]

# Modbus Application Protocol v1.1b3 §6: read coils (1), discrete inputs (2), holding (3), input (4).
FUNCTION_CODES = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
_BIT_KINDS = ("coil", "discrete")
_PHYSICS_BITS = {"stable": STATUS_STABLE, "overload": STATUS_OVERLOAD, "error": STATUS_ERROR}
_DEFAULT_BITS = {"stable": 0, "overload": 1, "error": 2}

Value = Decimal | bool


class Store(Protocol):
    """The part of a pymodbus server the faces use."""

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool]: ...

    async def async_setValues(self, device_id: int, func_code: int, address: int, values: list) -> None: ...


def sim_device(unit_id: int, regs: Mapping[str, Register]) -> SimDevice:
    """A pymodbus device holding every entry of `regs` (unit 0: answers any unit id on TCP).

    Each kind gets one block from its lowest to its highest address, so a host may read a span that
    holds several values in one request, as it does from a real indicator. A kind with no entry
    still needs a block: one bit (coils, discrete inputs) or one invalid register ("illegal address").
    """
    blocks: list[list[SimData]] = []
    for kind in FUNCTION_CODES:
        entries = [r for r in regs.values() if r.kind == kind]
        bits = kind in _BIT_KINDS
        if not entries:
            empty = DataType.BITS if bits else DataType.INVALID
            blocks.append(
                [SimData(0, count=1, values=False, datatype=empty)] if bits else [SimData(0, datatype=empty)]
            )
            continue
        start = min(r.address for r in entries)
        count = max(r.address + r.width for r in entries) - start
        if bits:
            blocks.append([SimData(start, count=count, values=False, datatype=DataType.BITS)])
        else:
            blocks.append([SimData(start, count=count, values=0, datatype=DataType.REGISTERS)])
    return SimDevice(id=unit_id, simdata=(blocks[0], blocks[1], blocks[2], blocks[3]))


def _runs(regs: Mapping[str, Register], names: Sequence[str]) -> list[list[str]]:
    """`names` grouped into runs of registers that follow each other without a gap (one call each)."""
    ordered = sorted(names, key=lambda n: (regs[n].kind, regs[n].address))
    runs: list[list[str]] = []
    for name in ordered:
        reg = regs[name]
        if runs and reg.kind not in _BIT_KINDS:
            last = regs[runs[-1][-1]]
            if last.kind == reg.kind and reg.address == last.address + last.width:
                runs[-1].append(name)
                continue
        runs.append([name])
    return runs


class _Face:
    """One device's map: reads and writes its named values in as few datastore calls as it can."""

    reads: tuple[str, ...] = ()

    def __init__(self, regs: Mapping[str, Register]) -> None:
        self.regs = regs
        self._read_runs = _runs(regs, self.reads)

    async def _read(self, store: Store, unit: int) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for run in self._read_runs:
            first = self.regs[run[0]]
            words = await store.async_getValues(
                unit, FUNCTION_CODES[first.kind], first.address, sum(self.regs[n].width for n in run)
            )
            at = 0
            for name in run:
                reg = self.regs[name]
                if reg.kind in _BIT_KINDS:
                    out[name] = bool(words[at])
                else:
                    out[name] = decode(reg, [int(w) for w in words[at : at + reg.width]])
                at += reg.width
        return out

    async def _write(self, store: Store, unit: int, values: Mapping[str, Value]) -> None:
        for run in _runs(self.regs, list(values)):
            first = self.regs[run[0]]
            words: list[int] | list[bool]
            if first.kind in _BIT_KINDS:
                words = [bool(values[run[0]])]
            else:
                # Clamped: an empty scale's noise below zero on an unsigned register shows 0, as a
                # real indicator pins its display, instead of failing the tick.
                words = [w for n in run for w in encode(self.regs[n], Decimal(values[n]), clamp=True)]
            await store.async_setValues(unit, FUNCTION_CODES[first.kind], first.address, words)


class ScaleFace(_Face):
    """The weighing indicator (docs/devices.md, "Weighing indicator")."""

    reads = ("target", "preact", "fill_cmd")

    def __init__(self, regs: Mapping[str, Register]) -> None:
        super().__init__(regs)
        self._bits = regs["status"].bits or _DEFAULT_BITS

    async def take_host_writes(self, store: Store, unit: int, station: SimulatedStation) -> None:
        values = await self._read(store, unit)
        station.write_target(float(values["target"]))
        station.write_preact(float(values["preact"]))
        station.write_fill_cmd(int(values["fill_cmd"]))

    async def show(
        self, store: Store, unit: int, station: SimulatedStation, *, undo_host_writes: bool
    ) -> None:
        """What the indicator displays; with `undo_host_writes`, also put back what the host wrote
        meanwhile (a disconnected indicator never received it)."""
        view = station.scale_view()
        values: dict[str, Value] = {
            "gross": Decimal(view.gross_g) / 1000,
            "status": Decimal(self._status_word(view.status)),
            "fill_state": Decimal(view.fill_state),
        }
        if undo_host_writes:
            values["target"] = Decimal(str(station.target_kg))
            values["preact"] = Decimal(str(station.preact_kg))
            values["fill_cmd"] = Decimal(station.fill_cmd)
        await self._write(store, unit, values)

    def _status_word(self, status: int) -> int:
        """The physics' status bits moved to where this indicator's map has them."""
        word = status & (STATUS_FILL_ACTIVE | STATUS_FILL_DONE)
        for name, bit in _PHYSICS_BITS.items():
            if status & bit:
                word |= 1 << self._bits.get(name, _DEFAULT_BITS[name])
        return word


class ValveFace(_Face):
    """The permit valve with its watchdog (docs/devices.md, "Permit valve")."""

    reads = ("heartbeat", "watchdog_ms", "permit")

    async def take_host_writes(self, store: Store, unit: int, station: SimulatedStation) -> None:
        values = await self._read(store, unit)
        # Heartbeat first: a host that refreshes it and grants the permit in one go is not tripped.
        station.write_heartbeat(int(values["heartbeat"]))
        station.write_watchdog_ms(int(values["watchdog_ms"]))
        station.write_permit(bool(values["permit"]))

    async def show(
        self, store: Store, unit: int, station: SimulatedStation, *, undo_host_writes: bool
    ) -> None:
        view = station.valve_view()
        values: dict[str, Value] = {"permit": view.permit, "feedback": view.feedback_open}
        if undo_host_writes:
            values["heartbeat"] = Decimal(station.heartbeat)
            values["watchdog_ms"] = Decimal(station.watchdog_ms)
        await self._write(store, unit, values)
