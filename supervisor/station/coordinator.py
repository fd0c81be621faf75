"""The station coordinator actor: moves messages into the core and its effects out, and nothing else.

Its inbox takes everything a station hears (samples, valve status, scans, checks, console orders,
link and storage health). Every `tick_s` it also gives the core a `Tick`, also under a steady
stream of messages, so timeouts are judged on time. Effects leave without waiting: orders are
desired states (`Latest`, the valve and scale actors apply the newest), events go to the bus
(which never blocks), records to the record sink (which never blocks). So a slow console, a
slow database or a full subscriber can never hold up a cut-off.

The core outlives the actor: a coordinator restarted by its supervisor carries on with the same
station state (a fill under way included), and on every start it first re-asserts the permit the
core holds, which is closed unless a fill is running.
"""

from __future__ import annotations

import trio

from supervisor.runtime.bus import EventBus
from supervisor.runtime.mailbox import Latest, Mailbox
from supervisor.station.core import Effect, Emit, StationCore, Store
from supervisor.station.messages import IndicatorOrder, PermitOrder, StationInput, Tick
from supervisor.station.records_sink import RecordSink

__all__ = ["Coordinator"]


class Coordinator:
    def __init__(
        self,
        core: StationCore,
        inbox: Mailbox[StationInput],
        *,
        bus: EventBus,
        sink: RecordSink,
        permit: Latest[PermitOrder],
        indicator: Latest[IndicatorOrder],
        tick_s: float = 0.1,
    ) -> None:
        self.core = core
        self.inbox = inbox
        self._bus = bus
        self._sink = sink
        self._permit = permit
        self._indicator = indicator
        self._tick_s = tick_s
        self.handled = 0

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        permit = self._permit.peek()
        if permit is None or (permit.open and not self.core.permit):
            self._permit.set(PermitOrder(False, "coordinator started"))
        task_status.started()
        next_tick = trio.current_time()
        while True:
            now = trio.current_time()
            if now >= next_tick:
                self._carry_out(self.core.handle(Tick(now)))
                next_tick = now + self._tick_s
            message: StationInput | None = None
            with trio.move_on_at(next_tick):
                message = await self.inbox.receive()
            if message is not None:
                self._carry_out(self.core.handle(message))
                self.handled += 1

    def shutdown(self) -> None:
        """The floor is stopping: close, and record a fill under way as interrupted."""
        self._carry_out(self.core.shutdown())

    def _carry_out(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case PermitOrder():
                    self._permit.set(effect)
                case IndicatorOrder():
                    self._indicator.set(effect)
                case Emit():
                    self._bus.emit(effect.type, **effect.fields)
                case Store():
                    self._sink.put(effect.record)

