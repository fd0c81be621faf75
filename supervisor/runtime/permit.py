"""The permit gate: a station's permit to fill exists only while its scale and valve actors run
(the runtime's part of the permit rule, `domain.permit_rule`, which states the whole rule).

The station's supervisor tells the gate about every health change of its device actors, before a
restart and as an actor stops (`actor_state`). The valve actor asks `may_open()` at the moment it
would energise the permit, and the gate calls `close_now` (the valve actor's never-dropped "close"
path) on every revocation. This makes "no permit while the scale or valve actor is down" a property
of the runtime and the station, not a convention each actor must remember.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.messages import PermitOrder
from domain.permit_rule import may_energise, permit_blockers
from domain.reasons import Reason

__all__ = ["REQUIRED_DEVICES", "PermitGate"]

REQUIRED_DEVICES = ("scale", "valve")


class PermitGate:
    def __init__(self, station: str) -> None:
        self.station = station
        self._running: dict[str, bool] = dict.fromkeys(REQUIRED_DEVICES, False)
        self._out_of_service: set[str] = set()  # why: "failed" (supervisor gave up), "maintenance"
        self._shutdown = False
        self._close_hooks: list[Callable[[str], None]] = []
        self.epoch = 0  # bumps on every revocation; a grant is valid only within its epoch
        self.revocations = 0

    def on_revoke(self, hook: Callable[[str], None]) -> None:
        """`hook(cause)` runs synchronously on every revocation: it must not block."""
        self._close_hooks.append(hook)

    def actor_state(self, device: str, running: bool) -> None:
        if device not in self._running:
            return
        was = self._running[device]
        self._running[device] = running
        if was and not running:
            self.revoke(f"{self.station}.{device} not running")

    def set_out_of_service(self, why: str, on: bool) -> None:
        if on:
            self._out_of_service.add(why)
            self.revoke(f"{self.station} out of service ({why})")
        else:
            self._out_of_service.discard(why)

    @property
    def out_of_service(self) -> bool:
        return bool(self._out_of_service)

    @property
    def out_of_service_reasons(self) -> frozenset[str]:
        return frozenset(self._out_of_service)

    def shutdown(self) -> None:
        self._shutdown = True
        self.revoke("supervisor shutdown")

    def blockers(self) -> tuple[Reason, ...]:
        """Why the permit cannot be granted now (empty: it may be)."""
        return permit_blockers(
            scale_running=self._running["scale"],
            valve_running=self._running["valve"],
            in_service=not self._out_of_service,
            shutting_down=self._shutdown,
        )

    def may_open(self) -> bool:
        return not self.blockers()

    def allows(self, order: PermitOrder | None) -> bool:
        """Whether the valve may hold the permit on now, under the core's newest `order`."""
        return may_energise(ordered_open=order is not None and order.open, blockers=self.blockers())

    def revoke(self, cause: str) -> None:
        self.epoch += 1
        self.revocations += 1
        for hook in self._close_hooks:
            hook(cause)
