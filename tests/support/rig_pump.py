"""The scale and valve actors' part, done in-process on a model rig at 20 Hz."""

from __future__ import annotations

from decimal import Decimal

import trio

from domain.messages import (
    IndicatorFillState,
    IndicatorOrder,
    PermitOrder,
    StationInput,
    ValveStatus,
    WeightSample,
)
from simulator.model_rig import Rig
from supervisor.runtime.mailbox import Latest, Mailbox


async def pump(rig: Rig, inbox: Mailbox[StationInput], permit: Latest[PermitOrder],
               indicator: Latest[IndicatorOrder]) -> None:  # fmt: skip
    """The scale and valve actors' part: poll the devices at 20 Hz, apply the newest orders."""
    seen_permit = seen_indicator = None
    while True:
        await trio.sleep(0.05)
        if (p := permit.peek()) is not seen_permit and p is not None:
            seen_permit = p
            rig.sim.write_permit(p.open)
        if (i := indicator.peek()) is not seen_indicator and i is not None:
            seen_indicator = i
            rig._apply(i)
        rig.sim.tick(0.05)
        rig.max_mass = max(rig.max_mass, rig.sim.mass_kg)
        now = trio.current_time()
        view = rig.sim.scale_view()
        await inbox.send(WeightSample(Decimal(view.gross_g) / 1000, view.stable, now,
                                      fill_state=IndicatorFillState(view.fill_state)))  # fmt: skip
        v = rig.sim.valve_view()
        await inbox.send(ValveStatus(v.permit, v.feedback_open, now))
