"""A coordinator's surroundings on a model rig: the scale and valve actors' part done in-process at
20 Hz (`pump`), the floor's alarm path (`alarm_desk`) and the coordinator around the rig's core
(`coordinator_on`)."""

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
from supervisor.runtime.bus import EventBus
from supervisor.runtime.mailbox import Latest, Mailbox
from supervisor.station.alarm_desk import AlarmDesk
from supervisor.station.coordinator import Coordinator, Records


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


def coordinator_on(
    rig: Rig,
    inbox: Mailbox[StationInput],
    bus: EventBus,
    sink: Records,
    permit: Latest[PermitOrder],
    indicator: Latest[IndicatorOrder],
) -> Coordinator:
    """The rig's core in a coordinator, its alarms through the floor's path (`alarm_desk`)."""
    return Coordinator(rig.core, inbox, bus=bus, sink=sink, alarms=alarm_desk(rig, sink, bus), permit=permit,
                       indicator=indicator)  # fmt: skip


def alarm_desk(rig: Rig, sink: Records, bus: EventBus) -> AlarmDesk:
    """The floor's alarm path for a coordinator under test: its records to the sink, events to the bus."""
    return AlarmDesk(sink.put, bus.publish, wall_now=rig.ctx.wall_now, new_id=rig.ctx.new_id,
                     clock=trio.current_time)  # fmt: skip
