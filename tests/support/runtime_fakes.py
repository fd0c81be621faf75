"""A fake station for runtime tests: device actors that crash on command, a valve that honours
the permit gate, a physical valve that only the valve actor (or a revocation) can move, and an
instrument that checks the safety property after every single task step."""

from __future__ import annotations

import trio
import trio.abc

from domain.records import AuditRecord
from domain.times import utc_now
from supervisor.runtime.bus import EventBus
from supervisor.runtime.maintenance import Maintenance
from supervisor.runtime.permit import PermitGate
from supervisor.runtime.spec import Backoff, ChildSpec, Intensity
from supervisor.runtime.station import StationRuntime
from supervisor.runtime.supervisor import Supervisor
from supervisor.station.alarm_desk import AlarmDesk

DEVICES = ("scale", "valve", "scanner")


class PhysicalValve:
    def __init__(self) -> None:
        self.permit = False
        self.opened = 0


class FakeStation:
    def __init__(self, sid: str, bus: EventBus, intensity: Intensity = Intensity(3, 30.0)) -> None:
        self.sid = sid
        self.valve = PhysicalValve()
        self.gate = PermitGate(sid)
        # The close path: in the product, the valve actor's priority "close" channel and the
        # device watchdog; here the physical valve closes at once.
        self.gate.on_revoke(lambda _cause: setattr(self.valve, "permit", False))
        # Ground truth, set by the actors' own code: is the actor's body running right now?
        self.alive = dict.fromkeys(DEVICES, False)
        self._crash: dict[str, trio.MemorySendChannel[str]] = {}
        self._crash_rx: dict[str, trio.MemoryReceiveChannel[str]] = {}
        for dev in DEVICES:
            self._crash[dev], self._crash_rx[dev] = trio.open_memory_channel[str](100)
        self._open_tx, self._open_rx = trio.open_memory_channel[None](100)
        self.refused = 0
        specs = [ChildSpec(f"{sid}.{dev}", self._device(dev)) for dev in DEVICES]
        # The floor's alarm path without storage: published and on the board.
        self.alarms = AlarmDesk(lambda _record: None, bus.publish, wall_now=utc_now,
                                new_id=lambda kind: f"{kind}-{sid}", clock=trio.current_time)  # fmt: skip
        self.runtime = StationRuntime(sid, specs, bus=bus, gate=self.gate, intensity=intensity,
                                      backoff=Backoff(initial_s=0.1, max_s=1.0),
                                      alarms=self.alarms.post)  # fmt: skip

    def crash(self, dev: str) -> None:
        self._crash[dev].send_nowait(dev)

    def request_open(self) -> None:
        self._open_tx.send_nowait(None)

    def unsafe(self) -> str | None:
        """What is wrong if the permit is held while the scale or valve actor is not running."""
        if self.valve.permit and not (self.alive["scale"] and self.alive["valve"]):
            down = [d for d in ("scale", "valve") if not self.alive[d]]
            return f"{self.sid}: permit held with {', '.join(down)} down at {trio.current_time():.4f}"
        return None

    def _device(self, dev: str):  # type: ignore[no-untyped-def]
        async def run(task_status: trio.TaskStatus[None]) -> None:
            self.alive[dev] = True
            try:
                task_status.started()
                async with trio.open_nursery() as nursery:
                    if dev == "valve":
                        nursery.start_soon(self._valve_commands)
                    await self._crash_rx[dev].receive()
                    raise OSError(f"{self.sid}.{dev} device fault")
            finally:
                self.alive[dev] = False

        return run

    async def _valve_commands(self) -> None:
        async for _ in self._open_rx:
            if self.gate.may_open():
                self.valve.permit = True
                self.valve.opened += 1
            else:
                self.refused += 1


class SafetyWatch(trio.abc.Instrument):
    """Checks the stations after every task step: a violation cannot hide between two checks."""

    def __init__(self, *stations: FakeStation) -> None:
        self.stations = stations
        self.violations: list[str] = []

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        for station in self.stations:
            if (problem := station.unsafe()) is not None:
                self.violations.append(problem)


def floor_of(bus: EventBus, *stations: FakeStation) -> tuple[Supervisor, Maintenance, list[AuditRecord]]:
    """A floor supervisor over the stations, its maintenance API, and the audit trail it writes."""
    floor = Supervisor("floor", [st.runtime.spec() for st in stations], bus=bus)
    for st in stations:
        floor.adopt(st.sid, st.runtime.supervisor)
    audit: list[AuditRecord] = []

    async def record(a: AuditRecord) -> None:
        audit.append(a)

    return floor, Maintenance(floor, {st.sid: st.runtime for st in stations}, record), audit
