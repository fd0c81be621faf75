"""The event bus: actors publish, observers (console, platform sync, event file) subscribe.

What travels is a typed event (`domain.events`) in an envelope with the time it was published;
subscribers match on the event's class.

Publishing never blocks and never waits on a subscriber (the control path publishes). Each
subscription has its policy:
- lossless (records, alarms, state changes): queued up to a bound; a subscriber that falls past the
  bound is cut off and reported (`bus.subscriber_lagged`), never allowed to hold up the publisher;
- coalesced (telemetry: events with a `coalesce_key`, e.g. a station's live weight): latest-wins
  per key, so a slow console sees the newest weight and not a backlog.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import trio
from attrs import field, frozen

from domain.events import FloorEvent, SubscriberCutOff, encode

__all__ = ["Event", "EventBus", "SubscriberLagged", "Subscription"]


def _clock() -> float:
    try:
        return trio.current_time()
    except RuntimeError:  # (made outside a trio run, e.g. in a unit test)
        return 0.0


@frozen
class Event:
    """A published event: what happened (`payload`), when it was published, and for telemetry the
    key under which a later one replaces it."""

    payload: FloorEvent
    coalesce_key: Hashable | None = None  # telemetry: later events with the same key replace earlier
    at: float = field(factory=_clock, eq=False)  # trio clock when it was published (for consoles)

    @property
    def type(self) -> str:
        """The payload's type string (for logs and tests; code matches on the payload's class)."""
        return self.payload.TYPE

    @property
    def fields(self) -> Mapping[str, Any]:
        """The payload's fields as its JSON form has them (for logs and tests)."""
        return {k: v for k, v in encode(self.payload).items() if k != "type"}


class SubscriberLagged(Exception):
    """The subscriber fell behind past its bound and was cut off; resubscribe for a fresh start."""


class Subscription:
    def __init__(
        self, bus: EventBus, name: str, capacity: int, coalesce: bool, accept: Callable[[Event], bool]
    ) -> None:
        self._bus = bus
        self.name = name
        self.capacity = capacity
        self.coalesce = coalesce
        self.accept = accept
        self._queue: deque[Event] = deque()
        self._latest: OrderedDict[Hashable, Event] = OrderedDict()
        self._wake = trio.Event()
        self.lagged = False
        self.closed = False
        self.coalesced = 0  # telemetry events replaced before they were read

    def _offer(self, event: Event) -> bool:
        """Called by the bus; False when this subscription had to be cut off."""
        if self.closed or not self.accept(event):
            return True
        if self.coalesce and event.coalesce_key is not None:
            if event.coalesce_key in self._latest:
                self.coalesced += 1
                del self._latest[event.coalesce_key]
            self._latest[event.coalesce_key] = event
        elif len(self._queue) >= self.capacity:
            self.lagged = True
            self.closed = True
            self._wake.set()
            return False
        else:
            self._queue.append(event)
        self._wake.set()
        return True

    async def receive(self) -> Event:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._latest:
                return self._latest.popitem(last=False)[1]
            if self.lagged:
                raise SubscriberLagged(f"subscriber {self.name} fell behind by {self.capacity} events")
            if self.closed:
                raise trio.EndOfChannel
            self._wake = trio.Event()
            await self._wake.wait()

    def receive_nowait_or_none(self) -> Event | None:
        if self._queue:
            return self._queue.popleft()
        if self._latest:
            return self._latest.popitem(last=False)[1]
        return None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._bus._remove(self)

    def pending(self) -> int:
        return len(self._queue) + len(self._latest)


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def subscribe(
        self,
        name: str,
        *,
        capacity: int = 10_000,
        coalesce: bool = True,
        accept: Callable[[Event], bool] = lambda _e: True,
    ) -> Subscription:
        sub = Subscription(self, name, capacity, coalesce, accept)
        self._subscriptions.append(sub)
        return sub

    def publish(self, payload: FloorEvent, *, coalesce_key: Hashable | None = None) -> None:
        """Hand the event to every subscriber; never waits (a subscriber past its bound is cut off)."""
        event = Event(payload, coalesce_key)
        self.published += 1
        lagging = [s for s in self._subscriptions if not s._offer(event)]
        for sub in lagging:
            self._remove(sub)
            self.publish(SubscriberCutOff(sub.name, sub.capacity))

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    @property
    def subscribers(self) -> list[str]:
        return [s.name for s in self._subscriptions]
