"""A station's published status: what it has told the floor of itself, as one value.

The coordinator keeps it, and only it reads its core to do so: the console's snapshot takes this
value, never the core's fields (the core is the coordinator's alone). It moves with what the
station publishes: the state, its cylinder and the operator with the events that announce them
(`station.state`, `operator.login`/`logout`), the weight with the telemetry (`station.weight`),
and what no event carries (the preact in use, the faults holding the station) is read again
whenever the station has published something, which is when they change.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
from attrs import frozen

from domain.events import FloorEvent, OperatorLogin, OperatorLogout, StationState, StationWeight
from supervisor.station.core import StationCore

__all__ = ["StationStatus"]


@frozen
class StationStatus:
    station: str
    state: str
    cylinder: str | None = None
    operator: str | None = None  # the badge logged in
    gross_kg: Decimal | None = None
    stable: bool | None = None
    target_kg: Decimal | None = None
    tare_kg: Decimal | None = None
    preact_kg: Decimal | None = None
    faults: tuple[str, ...] = ()  # the causes holding the station in fault

    @classmethod
    def of(cls, core: StationCore) -> StationStatus:
        """The status when a coordinator takes its core (at start: nothing published yet)."""
        label, sample = core.label, core.sample
        return cls(
            core.ctx.station, core.state, label.code if label else None, core.badge,
            sample.gross_kg if sample else None, sample.stable if sample else None,
            core.fill.target.target_gross_kg if core.fill else None,
            core.fill.target.tare_kg if core.fill else None, core.preact_kg,
            tuple(sorted(core.faults)),
        )  # fmt: skip

    def after(self, event: FloorEvent) -> StationStatus:
        """The status once this station has published `event`."""
        match event:
            case StationState(state=state, cylinder=cylinder):
                return attrs.evolve(self, state=state, cylinder=cylinder)
            case StationWeight(gross_kg=gross, stable=stable, target_kg=target, tare_kg=tare):
                return attrs.evolve(self, gross_kg=gross, stable=stable, target_kg=target, tare_kg=tare)
            case OperatorLogin(operator=badge):
                return attrs.evolve(self, operator=badge)
            case OperatorLogout():
                return attrs.evolve(self, operator=None)
        return self

    def reread(self, core: StationCore) -> StationStatus:
        """What no event carries, read again (the coordinator calls this once it has published)."""
        preact, faults = core.preact_kg, tuple(sorted(core.faults))
        if preact == self.preact_kg and faults == self.faults:
            return self
        return attrs.evolve(self, preact_kg=preact, faults=faults)
