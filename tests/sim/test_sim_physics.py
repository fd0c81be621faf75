"""The station physics on an explicit clock: flow, cut-off, watchdog, faults, ground truth."""

from __future__ import annotations

import pytest

from simulator.ground_truth import SimMass, SimValve
from simulator.station_physics import (
    FILL_ABORTED,
    FILL_CUT_OFF,
    FILL_FILLING,
    FILL_IDLE,
    STATUS_FILL_ACTIVE,
    STATUS_FILL_DONE,
    SimulatedStation,
)


def run(st: SimulatedStation, seconds: float, *, heartbeat_every: float | None = 0.1) -> None:
    """Advance `seconds` in 10 ms steps, heartbeating like a healthy host."""
    steps = round(seconds / 0.01)
    for i in range(steps):
        if heartbeat_every is not None and i % round(heartbeat_every / 0.01) == 0:
            st.write_heartbeat(st.heartbeat + 1)
        st.tick(0.01)


def station(**kw: object) -> SimulatedStation:
    args: dict[str, object] = {"flow_kg_s": 2.0, "valve_delay_ms": 100, "noise_g": 0.0, "seed": 1}
    args.update(kw)
    return SimulatedStation("S1", **args)  # type: ignore[arg-type]


def test_placed_cylinder_reads_its_gross_once_settled() -> None:
    st = station()
    st.place("C1", 16.0)
    st.tick(0.05)
    assert not st.scale_view().stable  # the scale rings right after the placement
    st.tick(1.0)
    view = st.scale_view()
    assert view.gross_g == 16000
    assert view.stable


def test_noise_is_reproducible_from_the_seed() -> None:
    readings = []
    for _ in range(2):
        st = station(noise_g=5.0, seed=42)
        st.place("C1", 16.0)
        st.tick(1.0)
        readings.append([st.scale_view().gross_g for _ in range(5) if st.tick(0.01) is None])
    assert readings[0] == readings[1]
    assert len(set(readings[0])) > 1  # noise really varies
    assert all(abs(g - 16000) < 40 for g in readings[0])


def test_host_cutoff_flows_only_while_permitted_after_the_actuation_delay() -> None:
    st = station(cutoff="host")
    st.place("C1", 16.0)
    run(st, 1.0)
    st.write_permit(True)
    run(st, 0.05)
    assert not st.valve_open  # 100 ms actuation delay
    run(st, 1.05)
    assert st.valve_open
    st.write_permit(False)
    run(st, 0.2)
    assert not st.valve_open
    # Opened at 1.1 s, closed at 2.2 s (both 100 ms after the command): 1.1 s at 2 kg/s.
    assert st.mass_kg == pytest.approx(18.2, abs=1e-6)


def test_indicator_cuts_off_at_target_minus_preact_within_one_ad_step() -> None:
    st = station(ad_rate_hz=100.0)
    st.place("C1", 15.2)
    run(st, 1.0)
    st.write_target(29.7)
    st.write_preact(0.3)
    st.write_heartbeat(1)
    st.write_permit(True)
    st.write_fill_cmd(1)
    assert st.scale_view().status & STATUS_FILL_ACTIVE
    cut_at_mass = None
    for _ in range(8000):
        st.write_heartbeat(st.heartbeat + 1)
        st.tick(0.001)
        if not st.fill_output and cut_at_mass is None:
            cut_at_mass = st.mass_kg
    assert cut_at_mass is not None
    threshold = 29.7 - 0.3
    # Cut at the first A/D sample at or above the threshold: within one A/D step of flow (20 g).
    assert threshold - 0.0005 <= cut_at_mass <= threshold + 2.0 * 0.01 + 1e-9  # the reading is in grams
    view = st.scale_view()
    assert view.fill_state == FILL_CUT_OFF
    assert view.status & STATUS_FILL_DONE
    # In-flight mass: the valve needs 100 ms to close, so ~0.2 kg more arrives after the cut-off.
    assert st.mass_kg == pytest.approx(cut_at_mass + 0.2, abs=0.005)
    st.write_fill_cmd(0)
    assert st.scale_view().fill_state == FILL_IDLE


def test_cut_off_does_not_depend_on_how_time_is_sliced() -> None:
    masses = []
    for step in (0.001, 0.0037, 0.05):
        st = station()
        st.place("C1", 15.0)
        st.tick(1.0)
        st.write_target(20.0)
        st.write_watchdog_ms(0)
        st.write_permit(True)
        st.write_fill_cmd(1)
        for _ in range(round(5.0 / step)):
            st.tick(step)
        masses.append(st.mass_kg)
    assert masses[0] == pytest.approx(masses[1], abs=1e-6)
    assert masses[0] == pytest.approx(masses[2], abs=1e-6)


def test_fill_command_zero_aborts_a_running_fill() -> None:
    st = station()
    st.place("C1", 15.0)
    run(st, 1.0)
    st.write_target(30.0)
    st.write_permit(True)
    st.write_fill_cmd(1)
    run(st, 1.0)
    assert st.valve_open
    st.write_fill_cmd(0)
    assert st.scale_view().fill_state == FILL_ABORTED
    run(st, 0.2)
    assert not st.valve_open


def test_watchdog_drops_the_permit_after_its_period_without_heartbeat() -> None:
    st = station(cutoff="host")
    st.place("C1", 15.0)
    st.write_heartbeat(7)
    st.write_permit(True)
    st.tick(0.499)
    assert st.valve_view().permit
    st.tick(0.002)
    assert not st.valve_view().permit  # 500 ms without a change
    st.tick(0.2)
    assert not st.valve_open


def test_a_changing_heartbeat_keeps_the_permit() -> None:
    st = station(cutoff="host")
    st.write_heartbeat(1)
    st.write_permit(True)
    run(st, 3.0, heartbeat_every=0.2)
    assert st.valve_view().permit
    assert st.valve_open


def test_stuck_open_valve_ignores_close_and_watchdog_and_the_mass_is_capped() -> None:
    st = station(cutoff="host")
    st.place("C1", 15.0, capacity_kg=18.8)
    st.write_heartbeat(1)
    st.write_permit(True)
    run(st, 1.0)
    assert st.valve_open
    st.stuck_open = True
    st.write_permit(False)
    run(st, 2.0, heartbeat_every=None)  # the host also stops heartbeating
    assert not st.valve_view().permit
    assert st.valve_view().feedback_open
    assert st.valve_open
    run(st, 20.0, heartbeat_every=None)
    assert st.mass_kg == pytest.approx(15.0 + 18.8)  # a runaway, stopped only by the cylinder filling up
    st.stuck_open = False
    run(st, 0.2, heartbeat_every=None)
    assert not st.valve_open


def test_frozen_ad_keeps_the_reading_and_never_cuts_off() -> None:
    st = station()
    st.place("C1", 15.0)
    run(st, 1.0)
    st.write_target(16.0)
    st.write_permit(True)
    st.write_fill_cmd(1)
    run(st, 0.2)
    st.ad_frozen = True
    frozen_g = st.scale_view().gross_g
    run(st, 1.0)
    assert st.scale_view().gross_g == frozen_g
    assert st.scale_view().fill_state == FILL_FILLING
    assert st.mass_kg > 16.5  # the real mass ran past the target
    st.ad_frozen = False
    run(st, 0.02)
    assert st.scale_view().fill_state == FILL_CUT_OFF


def test_valve_that_ignores_commands_keeps_its_permit_until_the_watchdog() -> None:
    st = station(cutoff="host")
    st.write_heartbeat(1)
    st.write_permit(True)
    run(st, 0.5)
    st.valve_ignores_commands = True
    st.write_permit(False)
    st.tick(0.2)
    assert st.valve_view().permit  # the close command was ignored
    run(st, 0.6)  # heartbeats are ignored too, so the watchdog trips
    assert not st.valve_view().permit


def test_ground_truth_reports_valve_moves_and_the_settled_mass() -> None:
    seen: list[object] = []
    st = station(cutoff="host", on_event=seen.append)
    st.place("C1", 15.0)
    st.write_heartbeat(1)
    st.write_permit(True)
    run(st, 1.1)
    st.write_permit(False)
    run(st, 1.0)
    assert [type(e) for e in seen] == [SimValve, SimValve, SimMass]
    opened, closed, mass = seen
    assert isinstance(opened, SimValve)
    assert opened.open
    assert opened.t == pytest.approx(0.1)
    assert isinstance(closed, SimValve)
    assert not closed.open
    assert isinstance(mass, SimMass)
    assert mass.cylinder == "C1"
    assert mass.gross_kg == pytest.approx(15.0 + 2.0 * 1.1, abs=0.001)  # open 0.1 s → 1.2 s
    assert mass.t == pytest.approx(closed.t + 0.5)
    assert mass.fields() == {"station": "S1", "cylinder": "C1", "gross_kg": mass.gross_kg}


def test_mass_report_names_a_cylinder_lifted_off_while_filling() -> None:
    st = station(cutoff="host")
    st.place("C1", 15.0)
    st.write_heartbeat(1)
    st.write_permit(True)
    run(st, 0.6)
    st.remove()
    st.write_permit(False)
    run(st, 1.0)
    mass = st.events[-1]
    assert isinstance(mass, SimMass)
    assert mass.cylinder == "C1"
    assert mass.gross_kg == pytest.approx(16.0, abs=0.001)
    assert st.scale_view().gross_g == 0


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="cutoff"):
        station(cutoff="plc")
    with pytest.raises(ValueError, match="flow"):
        station(flow_kg_s=0)
    st = station()
    with pytest.raises(ValueError, match="gross_kg"):
        st.place("C1", float("nan"))
