"""The scale actor: polls a weighing indicator over Modbus and tells the coordinator what it reads.

At `poll_hz` (20 Hz by default) it reads gross weight, the status bits (stable, overload, A/D
error) and, for the indicator cut-off, the fill state — one read of the block that holds them when
the register map allows. Each good poll is a `WeightSample`; `lost_after` failures in a row are a
`DeviceLink(up=False)` (the coordinator aborts a fill), and the actor keeps trying with backoff.

In `indicator` cut-off it also carries out the coordinator's `IndicatorOrder` (the newest one):
target and preact are written, read back and compared (a write is never blindly repeated: only
after the read-back shows it did not take), then the fill command is set; `run=False` clears it.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import trio

from actors.config import DeviceConfig
from actors.device_link import LinkHealth, Teller
from actors.link import ModbusDevice, ModbusError, ModbusMalformed, Transport
from actors.registers import Register, decode, encode, register_map
from domain.messages import IndicatorFillState, IndicatorOrder, WeightSample
from supervisor.runtime.mailbox import Latest

__all__ = ["ScaleActor"]

_WRITE_TRIES = 3


class ScaleActor:
    def __init__(
        self,
        config: DeviceConfig,
        transport: Transport,
        tell: Teller,
        orders: Latest[IndicatorOrder] | None = None,
    ) -> None:
        self.config = config
        self.device = ModbusDevice(transport, config.unit_id, timeout=config.timeout_s)
        self.map = register_map("scale", config.register_map)
        self._tell = tell
        self._orders = orders  # None: host cut-off, the indicator's fill mode is not used
        self.health = LinkHealth("scale", tell, config.lost_after)
        self.polls = 0
        self._block = _block([self.map["gross"], self.map["status"], self.map["fill_state"]])

    @property
    def link_state(self) -> str:
        """The device link as this actor sees it (the maintenance tree shows it)."""
        return self.health.state

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self._orders is not None:
                nursery.start_soon(self._carry_out_orders)
            task_status.started()
            period = 1.0 / self.config.poll_hz
            next_at = trio.current_time()
            try:
                while True:
                    await trio.sleep_until(next_at)
                    try:
                        self._tell(await self._poll())
                        self.health.ok()
                    except ModbusError as exc:
                        self.health.failed(exc)
                    next_at = max(next_at + period, trio.current_time() + self.health.backoff_s())
            finally:
                with trio.CancelScope(shield=True):
                    await self.device.transport.aclose()

    async def _poll(self) -> WeightSample:
        at = trio.current_time()
        if self._block is not None:
            kind, start, count = self._block
            words = await self.device.read_words(kind, start, count)

            def value(reg: Register) -> Decimal:
                return _decoded(reg, words[reg.address - start : reg.address - start + reg.width])
        else:
            values = {}
            for name in ("gross", "status", "fill_state"):
                reg = self.map[name]
                values[name] = _decoded(reg, await self.device.read_words(reg.kind, reg.address, reg.width))

            def value(reg: Register) -> Decimal:
                return next(v for n, v in values.items() if self.map[n] is reg)

        self.polls += 1
        status = int(value(self.map["status"]))
        bits = self.map["status"].bits or {}
        state = int(value(self.map["fill_state"]))
        return WeightSample(
            gross_kg=value(self.map["gross"]),
            stable=bool(status >> bits.get("stable", 0) & 1),
            at=at,
            overload=bool(status >> bits.get("overload", 1) & 1),
            error=bool(status >> bits.get("error", 2) & 1),
            fill_state=IndicatorFillState(state) if state in IndicatorFillState._value2member_map_ else
            IndicatorFillState.ABORTED, received_at=trio.current_time(),
        )  # fmt: skip

    async def _carry_out_orders(self) -> None:
        assert self._orders is not None
        # A fill command left set by an actor that stopped mid-fill (a crash, its station given up)
        # keeps the indicator in fill mode: the next fill's first samples would read that fill's
        # state as its own (found by the fault matrix: a scanner crash during a fill, then the next
        # fill aborted at once, internal.error). Cleared before any order; the next order sets it.
        with contextlib.suppress(ModbusError):
            await self._write_checked(self.map["fill_cmd"], Decimal(0))
        while True:
            order = await self._orders.next()
            while True:  # until the newest order took (an order that failed is tried again)
                try:
                    await self._apply(order)
                    break
                except ModbusError:
                    await trio.sleep(0.1)
                    newer = self._orders.peek()
                    if newer is not None and newer is not order:
                        order = newer

    async def _apply(self, order: IndicatorOrder) -> None:
        cmd = self.map["fill_cmd"]
        if not order.run:
            await self._write_checked(cmd, Decimal(0))
            return
        await self._write_checked(self.map["target"], order.target_kg)
        await self._write_checked(self.map["preact"], order.preact_kg)
        # The indicator starts on the command's 0 → 1 edge: a 1 left from before is cleared first.
        await self._write_checked(cmd, Decimal(0))
        await self._write_checked(cmd, Decimal(1))

    async def _write_checked(self, reg: Register, value: Decimal) -> None:
        words = encode(reg, value)
        for _ in range(_WRITE_TRIES):
            if await self.device.read_holding(reg.address, reg.width) == words:
                return  # already so (a write that took though its reply was lost)
            await self.device.write_registers(reg.address, words)
            if await self.device.read_holding(reg.address, reg.width) == words:
                return
        raise ModbusError(f"register {reg.address} does not take the value {value}")


def _decoded(reg: Register, words: list[int]) -> Decimal:
    # A float register holding NaN or an infinity (an indicator's A/D fault) is a bad reply like any
    # other: counted, the device lost after `lost_after` of them. Raised as ValueError, it left the
    # actor's loop, a crash and restart per poll until the station went out of service (fuzzing).
    try:
        return decode(reg, words)
    except ValueError as exc:
        raise ModbusMalformed(f"register {reg.address}: {exc}") from None


def _block(regs: list[Register]) -> tuple[str, int, int] | None:
    """One read for all of them when they are registers of one kind within 125 words of each other."""
    kinds = {r.kind for r in regs}
    if len(kinds) != 1 or kinds & {"coil", "discrete"}:
        return None
    start = min(r.address for r in regs)
    end = max(r.address + r.width for r in regs)
    return (kinds.pop(), start, end - start) if end - start <= 125 else None
