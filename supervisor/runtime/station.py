"""A station's supervision: its device actors and coordinator under one supervisor, wired to the
station's permit gate, taking the station out of service with an alarm when it gives up.

The floor runs each station as a temporary child: a station that gives up stays down (its valve
closed, out of service, an alarm raised) while every other station keeps filling, until
maintenance restarts it. The alarm is stored like every other alarm (an `AlarmRecord` for the record
sink, so it reaches the `alarm` table and the platform), its raise and its clear.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import trio

from domain.alarm_kinds import AlarmKind
from domain.events import AlarmCleared, AlarmRaised, StationState
from domain.records import AlarmRecord
from domain.times import utc_now
from supervisor.runtime.bus import EventBus
from supervisor.runtime.health import HealthState
from supervisor.runtime.permit import PermitGate
from supervisor.runtime.spec import Backoff, ChildSpec, Intensity, Restart, Strategy
from supervisor.runtime.supervisor import Supervisor

__all__ = ["StationRuntime"]

_SEVERITY = "high"


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
        record: Callable[[AlarmRecord], None] | None = None,
        new_id: Callable[[str], str] | None = None,
    ) -> None:
        """`record` stores the out-of-service alarm (the floor's record sink), `new_id` names its
        records; without them the alarm is only published (runtime tests without storage)."""
        self.station = station
        self.gate = gate or PermitGate(station)
        self._bus = bus
        self._record = record
        self._new_id = new_id
        self._alarm_message = ""
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
            self._alarm("cleared", self._alarm_message)

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
        self._alarm_message = f"{actor} keeps failing ({type(error).__name__}); station out of service"
        self._alarm("raised", self._alarm_message)

    def _alarm(self, event: str, message: str) -> None:
        """Raised or cleared as the station core's alarms are: stored, then published; the clear
        repeats the raise's kind, severity and message (ISA-18.2: one alarm, two records)."""
        alarm_id = f"{self.station}.out_of_service"
        kind = AlarmKind.STATION_OUT_OF_SERVICE
        if self._record is not None and self._new_id is not None:
            self._record(AlarmRecord(
                record_id=self._new_id("alarm"), alarm_id=alarm_id, kind=kind, severity=_SEVERITY,
                message=message, event=event, at=utc_now(), station=self.station,
            ))  # fmt: skip
        alarm = AlarmRaised if event == "raised" else AlarmCleared
        self._bus.publish(alarm(alarm_id, kind, _SEVERITY, message, self.station))
