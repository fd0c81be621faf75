"""The permit valve actor: grants or withdraws the permit to fill, and keeps the device's watchdog fed.

The valve is normally closed (de-energise to close). The actor
- writes the watchdog period at every (re)connection, then a changing heartbeat at least every
  quarter period, so the device itself drops the permit if the supervisor goes silent;
- applies the coordinator's newest `PermitOrder`, energising the permit only if the station's
  permit gate allows at that very moment (no permit while the scale or valve actor is down);
- closes at once when the gate revokes (the gate's hook wakes it; the hook never blocks);
- reports the permit as the device holds it and the position switch (`ValveStatus`), and a lost
  device as `DeviceLink(up=False)` after `lost_after` failures in a row;
- on being stopped or restarted, tries (shielded, briefly) to write the permit off.
"""

from __future__ import annotations

import contextlib

import trio

from actors.config import DeviceConfig
from actors.device_link import LinkHealth, Teller
from actors.link import ModbusDevice, ModbusError, Transport
from actors.registers import register_map
from domain.messages import PermitOrder, ValveStatus
from supervisor.runtime.mailbox import Latest
from supervisor.runtime.permit import PermitGate

__all__ = ["ValveActor"]


class ValveActor:
    def __init__(
        self,
        config: DeviceConfig,
        transport: Transport,
        tell: Teller,
        orders: Latest[PermitOrder],
        gate: PermitGate,
    ) -> None:
        self.config = config
        # Urgent on a shared RS-485 line: its heartbeat must not wait behind a silent scale's polls.
        self.device = ModbusDevice(transport, config.unit_id, timeout=config.timeout_s, urgent=True)
        self.map = register_map("valve", config.register_map)
        self._tell = tell
        self._orders = orders
        self._gate = gate
        self._wake = trio.Event()
        gate.on_revoke(lambda _cause: self._wake.set())  # once per actor object, not per restart
        self.health = LinkHealth("valve", tell, config.lost_after)
        self.heartbeat = 0
        self.written: bool | None = None  # the permit last written (None: unknown, write again)
        # Feed the watchdog well within its period, and poll the valve at least 10 times a second.
        self.period_s = min(config.watchdog_ms / 4000, 0.1)

    @property
    def link_state(self) -> str:
        """The device link as this actor sees it (the maintenance tree shows it)."""
        return self.health.state

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.written = None
        configured = False
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_orders)
                task_status.started()
                await self._loop(configured)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(0.5):
                with contextlib.suppress(ModbusError):  # unreachable: its watchdog drops the permit
                    await self.device.write_coil(self.map["permit"].address, False)
                await self.device.transport.aclose()

    async def _loop(self, configured: bool) -> None:
        while True:
            try:
                if not configured:
                    await self.device.write_register(self.map["watchdog_ms"].address, self.config.watchdog_ms)
                    configured = True
                await self._cycle()
                self.health.ok()
            except ModbusError as exc:
                configured, self.written = False, None
                self.health.failed(exc)
            with trio.move_on_after(max(self.period_s, self.health.backoff_s())):
                await self._wake.wait()
            self._wake = trio.Event()

    def _desired(self) -> bool:
        return self._gate.allows(self._orders.peek())  # (the permit rule: domain/permit_rule.py)

    async def _cycle(self) -> None:
        self.heartbeat = (self.heartbeat + 1) & 0xFFFF
        await self.device.write_register(self.map["heartbeat"].address, self.heartbeat)
        want = self._desired()
        if want != self.written:
            # Asked again just before the write: a revocation in between must not be overtaken.
            want = self._desired()
            await self.device.write_coil(self.map["permit"].address, want)
            self.written = want
        permit = (await self.device.read_coils(self.map["permit"].address))[0]
        feedback = (await self.device.read_discrete(self.map["feedback"].address))[0]
        if permit != self.written:
            self.written = None  # the device holds something else (its watchdog dropped it): write again
        self._tell(ValveStatus(permit, feedback, trio.current_time()))

    async def _watch_orders(self) -> None:
        """A new order wakes the cycle at once: a cut-off must not wait for the next heartbeat."""
        while True:
            await self._orders.next()
            self._wake.set()
