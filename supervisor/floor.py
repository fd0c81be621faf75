"""A whole floor, assembled: storage, the record sink, and per station its device actors and
coordinator under the station's supervisor, and the services under theirs, all under the floor
supervisor (docs/runtime.md, Supervision).

    floor ─┬─ storage      the one writer (started first, stopped last: the last records get out)
           ├─ records      the sink between the control path and the writer
           ├─ S1 ─┬─ S1.valve, S1.scale, S1.scanner   device actors (`DeviceActors` builds them)
           │      └─ S1.coordinator                    the interlock and fill control
           └─ services ─┬─ platform   the platform sync, when configured (outbox up, registry down)
                        └─ console    the console server, for `fillfloor serve`
The services are added by the layer above (`supervisor.services`), which knows them: a service
that keeps failing is given up by its own supervisor, and the floor fills on without it.
The same assembly serves `fillfloor serve` (real devices) and `fillfloor sim` (simulated devices
over the real protocols, with faults wrapped around the real actors).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping

import trio

from domain.fill_guard import StationLearning
from domain.messages import IndicatorOrder, PermitOrder, StationInput, StorageHealth
from domain.records import AuditRecord
from domain.times import utc_now
from supervisor.config import FloorConfig, StationConfig
from supervisor.runtime import (
    Backoff,
    ChildSpec,
    EventBus,
    Intensity,
    Latest,
    Mailbox,
    MailboxFull,
    Maintenance,
    PermitGate,
    Restart,
    StartFn,
    StationRuntime,
    Supervisor,
)
from supervisor.station.alarm_desk import AlarmDesk
from supervisor.station.coordinator import Coordinator
from supervisor.station.core import StationContext, StationCore
from supervisor.station.floor import FloorState
from supervisor.storage.database import Database
from supervisor.storage.sink import RecordSink
from supervisor.storage.writer import StorageWriter

__all__ = ["DeviceActors", "Floor", "StationParts", "new_record_id"]


def new_record_id(kind: str) -> str:
    """A record id the platform can key on: unique without coordination, stable across retries."""
    return f"{kind}-{uuid.uuid4().hex}"


class StationParts:
    """One station's pieces, for the device actors, the console and the scenario runner."""

    def __init__(self, config: StationConfig, core: StationCore, inbox: Mailbox[StationInput],
                 gate: PermitGate, coordinator: Coordinator) -> None:  # fmt: skip
        self.id = config.id
        self.config = config
        self.core = core
        self.inbox = inbox
        self.gate = gate
        self.coordinator = coordinator
        self.permit: Latest[PermitOrder] = coordinator.permit_orders
        self.indicator: Latest[IndicatorOrder] = coordinator.indicator_orders
        self.runtime: StationRuntime | None = None

    def tell(self, message: StationInput) -> None:
        """Hand a message to the coordinator without waiting (a full inbox is a stuck coordinator)."""
        self.inbox.send_nowait(message)


# Builds a station's device actors: name ("valve", "scale", "scanner") -> the actor's start function.
DeviceActors = Callable[[StationParts], Mapping[str, StartFn]]


class Floor:
    def __init__(
        self,
        config: FloorConfig,
        db: Database,
        state: FloorState,
        bus: EventBus,
        device_actors: DeviceActors,
        *,
        learned: Mapping[str, StationLearning] | None = None,
        lang: str = "zh",
        tick_s: float = 0.1,
    ) -> None:
        self.config = config
        self.db = db
        self.state = state
        self.bus = bus
        self.writer = StorageWriter(db)
        self.sink = RecordSink(self.writer)
        # Every alarm of the floor goes through its desk: stored, published, on the board that a
        # console reads (the board is the floor's, so it is kept while no console runs).
        self.alarms = AlarmDesk(self.sink.put, bus.publish, wall_now=utc_now, new_id=new_record_id,
                                clock=trio.current_time, lang=lang)  # fmt: skip
        self.stations: dict[str, StationParts] = {}
        for sc in config.stations:
            gate = PermitGate(sc.id)
            inbox: Mailbox[StationInput] = Mailbox(f"{sc.id}.coordinator", 1024)
            ctx = StationContext(
                station=sc.id, floor=state, rules=config.rules, label_rule=config.label, fill=sc.fill,
                cutoff=sc.cutoff, gate_blockers=gate.blockers, wall_now=utc_now, new_id=new_record_id,
                allowed_models=sc.allowed_models, lang=lang,
            )  # fmt: skip
            core = StationCore(ctx, (learned or {}).get(sc.id))
            orders: tuple[Latest[PermitOrder], Latest[IndicatorOrder]] = (Latest(), Latest())
            coordinator = Coordinator(core, inbox, bus=bus, sink=self.sink, alarms=self.alarms,
                                      permit=orders[0], indicator=orders[1], tick_s=tick_s)  # fmt: skip
            parts = StationParts(sc, core, inbox, gate, coordinator)
            self.sink.listen(self._storage_listener(parts))
            devices = device_actors(parts)
            specs = [ChildSpec(f"{sc.id}.{name}", start) for name, start in devices.items()]
            specs.append(ChildSpec(f"{sc.id}.coordinator", coordinator.run))
            parts.runtime = StationRuntime(sc.id, specs, bus=bus, gate=gate, alarms=self.alarms.post)
            self.stations[sc.id] = parts
        runtimes = {sid: p.runtime for sid, p in self.stations.items() if p.runtime is not None}
        # The services' own supervisor: restarts a failing one with backoff, gives up on one that
        # keeps failing (then it stays down, the floor fills on, maintenance may restart it).
        self.services = Supervisor("services", [], bus=bus, intensity=Intensity(5, 60.0),
                                   backoff=Backoff(initial_s=0.5, max_s=30.0))  # fmt: skip
        storage = [ChildSpec("storage", self.writer.run), ChildSpec("records", self.sink.run)]
        services = ChildSpec("services", self.services.run, restart=Restart.TEMPORARY)
        self.root = Supervisor("floor", [*storage, *(rt.spec() for rt in runtimes.values()), services],
                               bus=bus)  # fmt: skip
        for sid, rt in runtimes.items():
            self.root.adopt(sid, rt.supervisor)
        self.root.adopt("services", self.services)
        self.maintenance = Maintenance(self.root, runtimes, self._audit)

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self.root.run(task_status)

    def close_valves(self) -> None:
        """Shutdown, first thing: every permit revoked, a fill under way recorded as interrupted."""
        for parts in self.stations.values():
            parts.gate.shutdown()
            parts.coordinator.stop()

    async def _audit(self, record: AuditRecord) -> None:
        self.sink.put(record)

    @staticmethod
    def _storage_listener(parts: StationParts) -> Callable[[bool, str], None]:
        def listener(ok: bool, detail: str) -> None:
            # A full inbox is a stuck coordinator: its supervisor and the valve's watchdog see to it.
            with contextlib.suppress(MailboxFull):
                parts.tell(StorageHealth(ok, trio.current_time(), detail))

        return listener
