"""A station's supervision: its device actors and coordinator under one supervisor, wired to the
station's permit gate, taking the station out of service with an alarm when it gives up.

The floor runs each station as a temporary child: a station that gives up stays down (its valve
closed, out of service, an alarm raised) while every other station keeps filling, until
maintenance restarts it. The alarm, its raise and its clear, goes to the floor's alarm desk like
every other alarm (stored, so it reaches the `alarm` table and the platform; published; on the
board).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import trio

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import AlarmNotice, raised
from domain.events import StationState
from supervisor.runtime.bus import EventBus
from supervisor.runtime.health import HealthState
from supervisor.runtime.permit import PermitGate
from supervisor.runtime.spec import Backoff, ChildSpec, Intensity, Restart, Strategy
from supervisor.runtime.supervisor import Supervisor

__all__ = ["StationRuntime"]


class StationRuntime:
    def __init__(
        self,
        station: str,
        children: Sequence[ChildSpec],
        *,
        bus: EventBus,
        gate: PermitGate | None = None,
        intensity: Intensity = Intensity(3, 30.0),
        backoff: Backoff = Backoff(initial_s=0.2, max_s=5.0),
        rng: random.Random | None = None,
        alarms: Callable[[AlarmNotice], None],
    ) -> None:
        """`alarms` takes the out-of-service alarm (the floor's alarm desk)."""
        self.station = station
        self.gate = gate or PermitGate(station)
        self._bus = bus
        self._alarms = alarms
        self._out_of_service_alarm: AlarmNotice | None = None
        self.supervisor = Supervisor(
            station,
            children,
            bus=bus,
            strategy=Strategy.ONE_FOR_ONE,
            intensity=intensity,
            backoff=backoff,
            rng=rng,
            on_transition=self._on_transition,
            on_give_up=self._on_give_up,
            on_down=self._on_down,
        )

    def spec(self) -> ChildSpec:
        """The station as a child of the floor supervisor."""
        return ChildSpec(self.station, self._run, restart=Restart.TEMPORARY, shutdown_timeout_s=10.0)

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        await self.supervisor.run(task_status)

    def _on_transition(self, actor: str, state: HealthState) -> None:
        station, _, device = actor.partition(".")
        if station != self.station:
            return
        self.gate.actor_state(device, state == HealthState.RUNNING)
        if (
            state == HealthState.RUNNING
            and "failed" in self.gate.out_of_service_reasons
            and self._all_running()
        ):
            # Once all of a station's actors run again, it returns to service (docs/scenarios.md).
            self.gate.set_out_of_service("failed", False)
            if self._out_of_service_alarm is not None:
                self._alarms(self._out_of_service_alarm.cleared())  # (saying what its raise said)
                self._out_of_service_alarm = None

    def _on_down(self, actor: str) -> None:
        station, _, device = actor.partition(".")
        if station == self.station:
            self.gate.actor_state(device, False)

    def _all_running(self) -> bool:
        return all(v.health.state == HealthState.RUNNING for v in self.supervisor.view())

    def set_out_of_service(self, on: bool, why: str = "maintenance") -> None:
        """Take the station out of service (its permit revoked at once) or back, for `why`; it fills
        again only when no reason is left (a station that gave up comes back when its actors run)."""
        was = self.gate.out_of_service
        self.gate.set_out_of_service(why, on)
        if on and not was:
            self._bus.publish(StationState(self.station, "out_of_service"))

    def _on_give_up(self, actor: str, error: BaseException) -> None:
        self.set_out_of_service(True, "failed")
        alarm = raised(f"{self.station}.out_of_service", AlarmKind.STATION_OUT_OF_SERVICE, self.station,
                       actor=actor, error=type(error).__name__)  # fmt: skip
        self._out_of_service_alarm = alarm
        self._alarms(alarm)
