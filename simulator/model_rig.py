"""A station core on a simulated station, stepped in exact model time (tests and benchmarks).

The rig plays the device actors: every `step` it advances the station physics
(`simulator.station_physics`, the same model the Modbus simulators serve), hands the core a weight
sample, a valve status and a tick, and carries the core's orders back to the devices. Events and
records are collected so tests assert on what a user would see: the events of docs/scenarios.md, the
records stored, and the ground truth (was the valve physically open? what mass is in the cylinder?).
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import attrs

from domain.alarm_notices import AlarmNotice
from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.checks import answered_in_full
from domain.events import FloorEvent, InterlockRefused, StationState, encode
from domain.fill_guard import StationLearning
from domain.fill_settings import FillSettings
from domain.labels import LabelRule
from domain.messages import (
    CheckPhase,
    CheckSubmitted,
    ConsoleOrder,
    DeviceLink,
    FillMarked,
    IndicatorFillState,
    IndicatorOrder,
    PermitOrder,
    Scanned,
    StationInput,
    Tick,
    ValveStatus,
    WeightSample,
)
from domain.reasons import Reason
from domain.records import FillOpened, FillRecord, RefusalRecord
from domain.settings import DomainSettings
from simulator.station_physics import DEFAULT_CAPACITY_KG, SimulatedStation, liquid_full_kg
from supervisor.station.alarm_desk import AlarmDesk
from supervisor.station.core import StationContext, StationCore, Store
from supervisor.station.floor import FloorState

TODAY = dt.date(2026, 11, 23)
UNIT = "HY0012"
GOOD = "HY00120000123"


def archive(code: str = GOOD, **changes: Any) -> CylinderArchive:
    base = {
        "code": code, "owner": UNIT, "model": "YSP35.5", "tare_kg": Decimal("15.2"),
        "manufactured": dt.date(2019, 5, 1), "last_inspection": dt.date(2023, 6, 1),
        "next_inspection": dt.date(2027, 6, 1), "status": CylinderStatus.IN_SERVICE,
    }  # fmt: skip
    return CylinderArchive(**{**base, **changes})


OPERATOR = Operator("OP01", "张三", dt.date(2027, 1, 1))


class Rig:
    """One station: core + physics. `period` is the poll period of the simulated device actors."""

    def __init__(
        self,
        *,
        cutoff: str = "host",
        flow_kg_s: float = 2.0,
        noise_g: float = 0.0,
        fill: FillSettings | None = None,
        floor: FloorState | None = None,
        station: str = "S1",
        preact_kg: Decimal | None = None,
        learning: StationLearning | None = None,
        period: float = 0.05,
        archives: tuple[CylinderArchive, ...] = (archive(),),
        blockers: list[Reason] | None = None,
        valve_delay_ms: float = 150,
    ) -> None:
        self.floor = floor or FloorState(UNIT, lambda: TODAY, archives, [OPERATOR])
        self.blockers = blockers if blockers is not None else []
        ids = itertools.count(1)
        self.ctx = StationContext(
            station=station,
            floor=self.floor,
            rules=DomainSettings(),
            label_rule=LabelRule(UNIT),
            fill=fill or FillSettings(),
            cutoff=cutoff,
            gate_blockers=lambda: tuple(self.blockers),
            wall_now=lambda: "2026-11-23T08:00:00.000+00:00",
            new_id=lambda kind: f"{kind}-{station}-{next(ids)}",
        )
        if preact_kg is not None:
            learning = attrs.evolve(learning or StationLearning(), preact_kg=preact_kg)
        self.core = StationCore(self.ctx, learning)
        self.sim = SimulatedStation(station, flow_kg_s=flow_kg_s, valve_delay_ms=valve_delay_ms,
                                    noise_g=noise_g, cutoff=cutoff, watchdog_ms=0)  # fmt: skip
        self.period = period
        self.now = 0.0
        self.events: list[FloorEvent] = []
        self.records: list[Any] = []
        self.permit_orders: list[PermitOrder] = []
        # The floor's alarm path, as the product has it: stored (here: collected) and published.
        self.alarms = AlarmDesk(
            self.records.append, self.events.append, wall_now=self.ctx.wall_now, new_id=self.ctx.new_id,
            clock=lambda: self.now, lang=self.ctx.lang,
        )  # fmt: skip
        self.scale_ok = True  # False: no samples (a silent scale)
        self.valve_ok = True
        self.sample_override: dict[str, Any] = {}  # e.g. {"fill_state": ..., "error": True}
        self.max_mass = 0.0
        self.opened_for: set[str] = set()  # ground truth: cylinders the valve was physically open for

    # --- the world ---
    def send(self, msg: StationInput) -> None:
        marked = []
        for effect in self.core.handle(msg):
            self._apply(effect)
            if isinstance(effect, Store) and isinstance(effect.record, FillOpened):
                marked.append(effect.record.record_id)  # (durable at once: storage is not modelled here)
        for record_id in marked:
            self.send(FillMarked(record_id, self.now))

    def _apply(self, effect: object) -> None:
        match effect:
            case FloorEvent():
                self.events.append(effect)
            case Store():
                self.records.append(effect.record)
            case AlarmNotice():
                self.alarms.post(effect)
            case PermitOrder():
                self.permit_orders.append(effect)
                self.sim.write_permit(effect.open)
            case IndicatorOrder():
                if effect.run:
                    self.sim.write_target(float(effect.target_kg))
                    self.sim.write_preact(float(effect.preact_kg))
                    self.sim.write_fill_cmd(1)
                else:
                    self.sim.write_fill_cmd(0)

    def step(self, seconds: float = 0.05) -> None:
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.sim.tick(self.period)
            self.now += self.period
            if self.sim.valve_open and self.sim.cylinder:
                self.opened_for.add(self.sim.cylinder)
            self.max_mass = max(self.max_mass, self.sim.mass_kg)
            if self.scale_ok:
                view = self.sim.scale_view()
                fill_state = IndicatorFillState(view.fill_state)
                fields = {"gross_kg": Decimal(view.gross_g) / 1000, "stable": view.stable, "at": self.now,
                          "fill_state": fill_state, **self.sample_override}  # fmt: skip
                self.send(WeightSample(**fields))
            if self.valve_ok:
                v = self.sim.valve_view()
                self.send(ValveStatus(v.permit, v.feedback_open, self.now))
            self.send(Tick(self.now))

    def login(self, badge: str = "OP01") -> None:
        self.send(Scanned(badge, badge=True, at=self.now))

    def scan(self, text: str = GOOD, *, too_long: bool = False) -> None:
        self.send(Scanned(text, badge=False, at=self.now, too_long=too_long))

    def check(
        self,
        phase: CheckPhase,
        *,
        cylinder: str = GOOD,
        passed: bool = True,
        items: dict[str, str] | None = None,
    ) -> None:
        """A check terminal's check: every item checked (a fail: one failed), or the items named
        as given over that."""
        answered = answered_in_full(phase.value, passed, items or {})
        self.send(CheckSubmitted(cylinder, phase, passed, "CK01", answered, at=self.now))

    def console(self, kind: str) -> None:
        self.send(ConsoleOrder(kind, "SUP1", self.now))

    def link(self, device: str, up: bool) -> None:
        self.send(DeviceLink(device, up, self.now, "connection refused"))

    def place(self, gross_kg: float = 15.5, cylinder: str = GOOD) -> None:
        """Put a cylinder on the scale; it holds what its archive's model holds liquid-full."""
        known = self.floor.archives.get(cylinder)
        model = self.ctx.rules.models.get(known.model) if known is not None else None
        capacity = liquid_full_kg(float(model.water_volume_l)) if model is not None else DEFAULT_CAPACITY_KG
        self.sim.place(cylinder, gross_kg, capacity)

    def ready_to_fill(self, gross_kg: float = 15.5, cylinder: str = GOOD) -> None:
        """Operator logged in, check on record, cylinder placed and settled, label scanned."""
        if self.core.badge != OPERATOR.id:
            self.login()  # (the same badge again would log out)
        self.check(CheckPhase.PRE, cylinder=cylinder)
        self.place(gross_kg, cylinder)
        self.step(1.5)
        self.scan(cylinder)

    def until(self, predicate: Any, limit_s: float = 60.0) -> None:
        t0 = self.now
        while not predicate():
            assert self.now - t0 < limit_s, f"not reached within {limit_s} s; state {self.core.state}"
            self.step(self.period)

    # --- what a user sees ---
    def of_type(self, type_: str) -> list[dict[str, Any]]:
        """The events of one type in their JSON form (as the event file has them: lists, not tuples)."""
        return [
            {k: list(v) if isinstance(v, tuple) else v for k, v in encode(e).items() if k != "type"}
            for e in self.events
            if type_ == e.TYPE
        ]

    def states(self) -> list[str]:
        return [f["state"] for f in self.of_type(StationState.TYPE)]

    def refusals(self) -> list[tuple[str, ...]]:
        return [tuple(f["reasons"]) for f in self.of_type(InterlockRefused.TYPE)]

    def fills(self) -> list[FillRecord]:
        return [r for r in self.records if isinstance(r, FillRecord)]

    def refusal_records(self) -> list[RefusalRecord]:
        return [r for r in self.records if isinstance(r, RefusalRecord)]
