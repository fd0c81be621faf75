"""The station coordinator actor: moves messages into the core and its effects out, and nothing else.

Its inbox takes everything a station hears (samples, valve status, scans, checks, console orders,
link and storage health), and every `tick_s` a `Tick` (queued with the rest), so timeouts are
judged on time. Effects leave without waiting: orders are desired states (`Latest`, the valve and
scale actors apply the newest), events go to the bus (which never blocks), records to the record
sink (which never blocks), alarms to the floor's alarm desk (which stores and publishes them the
same two ways). So a slow console, a slow database or a full subscriber can never hold
up a cut-off.

A fill's valve opens only once the fill's open marker (`FillOpened`, stored by the core when it
decides to fill) is durable: the sink tells this actor, which tells the core (`FillMarked`, with
the marker's record id, through the inbox like any input), which then orders the permit if the
permit rule holds (`domain/permit_rule.py`, where the whole rule is stated). Until then the
valve stays closed, so a supervisor killed during a fill always leaves a marker from which the
next start records it as interrupted. Orders to close never wait for anything.

The core outlives the actor: a coordinator restarted by its supervisor carries on with the same
station state (a fill under way included), and on every start it first re-asserts the permit the
core holds, which is closed unless a fill is running.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Protocol

import trio

from domain.alarm_notices import AlarmNotice
from domain.events import FloorEvent, StationWeight
from domain.messages import (
    FillMarked,
    IndicatorOrder,
    PermitOrder,
    StationInput,
    Tick,
    WeightSample,
)
from domain.records import FillOpened, Record
from supervisor.runtime.bus import EventBus
from supervisor.runtime.mailbox import Latest, Mailbox, MailboxFull
from supervisor.station.alarm_desk import AlarmDesk
from supervisor.station.core import Effect, StationCore, Store
from supervisor.station.status import StationStatus

__all__ = ["Coordinator", "Records"]


class Records(Protocol):
    """Where a station's records go (the floor's record sink, `supervisor.storage.sink`): never
    waiting, nothing dropped; `on_durable` (it must not block) runs once the record is durable."""

    def put(self, record: Record, on_durable: Callable[[], None] | None = None) -> None: ...


_WEIGHT_EVERY_S = 0.1  # live weight to consoles at most 10 times a second


class Coordinator:
    def __init__(
        self,
        core: StationCore,
        inbox: Mailbox[StationInput],
        *,
        bus: EventBus,
        sink: Records,
        alarms: AlarmDesk,
        permit: Latest[PermitOrder],
        indicator: Latest[IndicatorOrder],
        tick_s: float = 0.1,
    ) -> None:
        self.core = core
        self.inbox = inbox
        self._bus = bus
        self._sink = sink
        self._alarms = alarms
        self.permit_orders = permit  # read by the valve actor
        self.indicator_orders = indicator  # read by the scale actor (indicator cut-off)
        self._tick_s = tick_s
        self.handled = 0
        self._weight_shown_at = float("-inf")
        self._marked_late: list[str] = []  # markers durable while the inbox was full (record ids)
        self.status = StationStatus.of(core)  # what this station has published (for consoles)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        permit = self.permit_orders.peek()
        if permit is None or (permit.open and not self.core.permit):
            self.permit_orders.set(PermitOrder(False, "coordinator started"))
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._ticks)
                task_status.started()
                # A blocking receive only when the inbox is empty: what is already queued is
                # handled without a trip through the scheduler per message (the hot path).
                async for message in self.inbox:
                    self._take(message)
                    while True:
                        try:
                            message = self.inbox.receive_nowait()
                        except trio.WouldBlock:
                            self._take_marked_late()
                            break
                        self._take(message)
        finally:
            self.stop()  # (synchronous: also when cancelled)

    def _take(self, message: StationInput) -> None:
        self._carry_out(self.core.handle(message))
        self.handled += 1
        if isinstance(message, WeightSample) and message.at - self._weight_shown_at >= _WEIGHT_EVERY_S:
            # Telemetry for consoles: coalesced (latest wins) per station, never queued up.
            self._weight_shown_at = message.at
            fill = self.core.fill
            station = self.core.ctx.station
            target = fill.target.target_gross_kg if fill else None
            tare = fill.target.tare_kg if fill else None
            weight = StationWeight(station, message.gross_kg, message.stable, target, tare)
            self._bus.publish(weight, coalesce_key=(StationWeight, station))
            self.status = self.status.after(weight)

    async def _ticks(self) -> None:
        """Time passes for the core even when no device speaks (that is when it matters most).
        The core judges time on every message, so a tick is sent only after a quiet period."""
        while True:
            seen = self.handled
            await trio.sleep(self._tick_s)
            if self.handled == seen:
                with contextlib.suppress(MailboxFull):  # (then there are messages enough to act on)
                    self.inbox.send_nowait(Tick(trio.current_time()))

    def stop(self) -> None:
        """Close, and record a fill under way (the floor stops, or this actor does)."""
        self._carry_out(self.core.stop())

    def _carry_out(self, effects: list[Effect]) -> None:
        status, published = self.status, False
        for effect in effects:
            match effect:
                case PermitOrder():
                    self.permit_orders.set(effect)
                case IndicatorOrder():
                    self.indicator_orders.set(effect)
                case FloorEvent():
                    self._bus.publish(effect)
                    status, published = status.after(effect), True
                case AlarmNotice():
                    self._alarms.post(effect)
                    published = True  # (an alarm comes with a fault the status re-reads)
                case Store(record=FillOpened() as marker):
                    self._sink.put(marker, functools.partial(self._marker_durable, marker.record_id))
                case Store():
                    self._sink.put(effect.record)
        if published:  # (what no event carries changes only with something published: an alarm, a fill)
            self.status = status.reread(self.core)

    def _marker_durable(self, record_id: str) -> None:
        try:
            self.inbox.send_nowait(FillMarked(record_id, trio.current_time()))
        except MailboxFull:
            # A flooded inbox must not cost the fill, nor may the marker overtake what is queued
            # (a stop, the cylinder lifted off, a lost device): it is taken once the queue has
            # been worked through, never from this (the sink's) task.
            self._marked_late.append(record_id)

    def _take_marked_late(self) -> None:
        while self._marked_late:
            self._take(FillMarked(self._marked_late.pop(0), trio.current_time()))
