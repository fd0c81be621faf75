"""The permit rule (domain/permit_rule.py): each of its conditions, taken away alone, withholds
the permit; and the places that apply it (the permit gate, the valve's last word, the station
core when a fill's marker is durable) follow it."""

from __future__ import annotations

from typing import Any

import pytest

from domain.messages import FillMarked, PermitOrder, StationInput
from domain.permit_rule import may_energise, may_permit, permit_blockers
from domain.reasons import Reason
from simulator.model_rig import Rig
from supervisor.runtime.permit import PermitGate

# Every runtime condition, as it holds, and the reason the gate gives when it does not.
_RUNTIME_OK = {"scale_running": True, "valve_running": True, "in_service": True, "shutting_down": False}
_RUNTIME_REASON = {
    "scale_running": Reason.DEVICE_SCALE_UNAVAILABLE,
    "valve_running": Reason.DEVICE_VALVE_UNAVAILABLE,
    "in_service": Reason.STATION_OUT_OF_SERVICE,
    "shutting_down": Reason.SUPERVISOR_SHUTDOWN,
}
_FILL_OK = {"fill_under_way": True, "marker_durable": True}


def _whole_rule(**changed: bool) -> bool:
    facts: dict[str, Any] = {**_FILL_OK, **_RUNTIME_OK, **changed}
    runtime = {k: facts.pop(k) for k in _RUNTIME_OK}
    return may_permit(**facts, blockers=permit_blockers(**runtime))


def test_with_every_condition_held_the_permit_may_be_given() -> None:
    assert permit_blockers(**_RUNTIME_OK) == ()
    assert _whole_rule()
    assert may_energise(ordered_open=True, blockers=())


@pytest.mark.parametrize("condition", [*_FILL_OK, *_RUNTIME_OK])
def test_any_one_condition_failing_alone_withholds_the_permit(condition: str) -> None:
    held = {**_FILL_OK, **_RUNTIME_OK}[condition]
    assert not _whole_rule(**{condition: not held})


@pytest.mark.parametrize("condition", list(_RUNTIME_OK))
def test_a_runtime_condition_failing_is_named_by_its_reason(condition: str) -> None:
    runtime = {**_RUNTIME_OK, condition: not _RUNTIME_OK[condition]}
    assert permit_blockers(**runtime) == (_RUNTIME_REASON[condition],)
    assert not may_energise(ordered_open=True, blockers=permit_blockers(**runtime))


def test_the_valve_holds_no_permit_without_an_open_order() -> None:
    assert not may_energise(ordered_open=False, blockers=())


def _running_gate() -> PermitGate:
    gate = PermitGate("S1")
    gate.actor_state("scale", True)
    gate.actor_state("valve", True)
    return gate


@pytest.mark.parametrize(
    "take_away",
    [
        lambda g: g.actor_state("scale", False),
        lambda g: g.actor_state("valve", False),
        lambda g: g.set_out_of_service("maintenance", True),
        lambda g: g.shutdown(),
    ],
    ids=["scale down", "valve down", "out of service", "shutdown"],
)
def test_the_gate_applies_the_runtime_part(take_away: Any) -> None:
    gate = _running_gate()
    order = PermitOrder(True, "fill", "fill-1")
    assert gate.allows(order)
    assert not gate.allows(PermitOrder(False, "cut_off", "fill-1"))
    assert not gate.allows(None)
    take_away(gate)
    assert not gate.allows(order)


class _MarkerRig(Rig):
    """The model station, with a hook between a fill's decision and its marker becoming durable."""

    def __init__(self, before_marker: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self._before_marker = before_marker

    def send(self, msg: StationInput) -> None:
        if isinstance(msg, FillMarked):
            msg = self._before_marker(self, msg)
        super().send(msg)


def test_a_marker_durable_while_the_runtime_blocks_opens_nothing_and_ends_the_fill() -> None:
    def scale_actor_stops(rig: Rig, marked: FillMarked) -> FillMarked:
        rig.blockers.append(Reason.DEVICE_SCALE_UNAVAILABLE)
        return marked

    rig = _MarkerRig(scale_actor_stops)
    rig.ready_to_fill(gross_kg=15.5)
    rig.until(lambda: rig.of_type("fill.aborted"), limit_s=10)
    assert not [o for o in rig.permit_orders if o.open]
    assert rig.of_type("fill.aborted")[0]["reason"] == "device.scale_lost"
    assert rig.max_mass < 15.6  # no gas went in


def test_a_marker_for_another_fill_opens_nothing() -> None:
    def another_fills_marker(rig: Rig, marked: FillMarked) -> FillMarked:
        return FillMarked("fill-of-another-station", marked.at)

    rig = _MarkerRig(another_fills_marker)
    rig.ready_to_fill(gross_kg=15.5)
    rig.step(2.0)
    assert rig.core.phase == "filling"  # the fill waits for its own marker
    assert not [o for o in rig.permit_orders if o.open]
    assert rig.max_mass < 15.6
