"""The fault matrix's checker (simulator.history_check) catches what it is for: hand-made event
lists, one right history and one breaking each rule, on a two-station scenario (S1 faulted, S2 the
control). The end-to-end runs are in test_fault_matrix.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from simulator.history_check import Violation, check, fault_cases
from simulator.scenario import PlatformSpec, Scenario, Step, load_scenario

SCENARIO = """
today = "2026-11-23"
[unit]
code = "HY0012"
[[operator]]
id = "OP01"
name = "张三"
certificate_expires = "2027-06-30"
[[cylinder]]
code = "HY00120000001"
owner = "HY0012"
model = "YSP35.5"
tare_kg = 15.0
manufactured = "2021-03-01"
last_inspection = "2025-03-01"
[[cylinder]]
code = "HY00120000002"
owner = "HY0012"
model = "YSP35.5"
tare_kg = 15.0
manufactured = "2021-03-01"
last_inspection = "2025-03-01"
[[station]]
id = "S1"
flow_kg_s = 1.5
valve_delay_ms = 150
[[station]]
id = "S2"
flow_kg_s = 1.5
valve_delay_ms = 150
[[step]]
do = "fault"
station = "S1"
device = "{device}"
kind = "{kind}"
seconds = 3
[[step]]
do = "wait"
station = "S1"
for = "state:awaiting_postcheck"
timeout_s = 30
[[step]]
do = "wait"
station = "S2"
for = "state:awaiting_postcheck"
timeout_s = 30
"""
C1, C2 = "HY00120000001", "HY00120000002"


def scenario(tmp_path: Path, device: str = "scale", kind: str = "disconnect") -> Scenario:
    path = tmp_path / "two.toml"
    path.write_text(SCENARIO.replace("{device}", device).replace("{kind}", kind), encoding="utf-8")
    return load_scenario(path)


def ev(ts: float, type_: str, station: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"ts": ts, "type": type_, **({"station": station} if station else {}), **fields}


def fill(
    station: str, cylinder: str, t: float, *, gross: float = 29.5, login: bool = True
) -> list[dict[str, Any]]:
    """A right fill: login, check, scan, filling, the valve opens and closes, completed, lifted off."""
    return [
        *([ev(t, "scan", station, raw="OP01")] if login else []),
        ev(t + 0.1, "check.recorded", station, cylinder=cylinder, phase="pre", result="pass"),
        ev(t + 0.2, "scan", station, raw=cylinder, code=cylinder),
        ev(t + 0.3, "station.state", station, state="verifying", cylinder=cylinder),
        ev(t + 1.0, "station.state", station, state="filling", cylinder=cylinder),
        ev(t + 1.0, "valve.command", station, open=True, cause="fill"),
        ev(t + 1.2, "sim.valve", station, open=True),
        ev(t + 9.0, "valve.command", station, open=False, cause="cut_off"),
        ev(t + 9.2, "sim.valve", station, open=False),
        ev(t + 9.7, "sim.mass", station, cylinder=cylinder, gross_kg=gross),
        ev(t + 10.0, "fill.completed", station, cylinder=cylinder, record_id=f"fill-{station}-{t}", flags=[]),
        ev(t + 10.0, "station.state", station, state="awaiting_postcheck", cylinder=cylinder),
        ev(t + 11.0, "station.state", station, state="idle"),
    ]


def history(*parts: list[dict[str, Any]], fault_at: float = 12.0) -> list[dict[str, Any]]:
    """S1 and S2 fill; S1's fault step (index 0) runs at `fault_at`; the waits; the end."""
    events = [e for part in parts for e in part]
    events += [ev(fault_at, "scenario.step", index=0, do="fault"),
               ev(40.0, "scenario.step", index=1, do="wait"), ev(40.0, "scenario.step", index=2, do="wait"),
               ev(60.0, "scenario.done", index=3, do="done")]  # fmt: skip
    return sorted(events, key=lambda e: e["ts"])


def rules(violations: list[Violation]) -> list[str]:
    return sorted({v.rule for v in violations})


def right(fault_at: float = 12.0) -> list[dict[str, Any]]:
    """Both stations fill; S1's scale is lost at 12 s and back, then S1 fills again."""
    lost = [ev(fault_at + 0.5, "alarm.raised", "S1", alarm_id="S1.scale_lost", kind="device.scale_lost",
               severity="high", message=""),
            ev(fault_at + 0.5, "station.state", "S1", state="fault"),
            ev(fault_at + 3.5, "alarm.cleared", "S1", alarm_id="S1.scale_lost", kind="device.scale_lost",
               severity="high", message=""),
            ev(fault_at + 3.5, "station.state", "S1", state="idle")]  # fmt: skip
    return history(fill("S1", C1, 0.0), fill("S2", C2, 0.0), lost, fill("S1", C2, 20.0, login=False),
                   fault_at=fault_at)  # fmt: skip


def test_a_right_history_has_no_violation_and_its_case_is_named_with_its_phase(tmp_path: Path) -> None:
    sc = scenario(tmp_path)
    assert check(sc, right()) == []
    [case] = fault_cases(sc, right())
    assert (case.station, case.name, case.injected_at, case.ends_at) == (
        "S1",
        "scale.disconnect@idle",
        12.0,
        15.0,
    )


def test_the_valve_opening_without_a_login_breaks_the_interlock(tmp_path: Path) -> None:
    events = history(fill("S1", C1, 0.0, login=False), fill("S2", C2, 0.0), fill("S1", C2, 20.0, login=False))
    found = check(scenario(tmp_path), events)
    assert rules(found) == ["interlock"]
    assert found[0].station == "S1"
    assert found[0].case == "scale.disconnect@idle"  # (the station's case, also before its fault)
    assert "operator.none" in found[0].detail
    assert found[0].event is not None
    assert found[0].event["type"] == "sim.valve"


@pytest.mark.parametrize(
    ("drop", "reason"),
    [("check.recorded", "precheck.missing"), ("scan", "label scanned"), ("valve.command", "no open order")],
)
def test_the_valve_opening_without_a_check_a_scan_or_an_order_breaks_the_interlock(
    tmp_path: Path, drop: str, reason: str
) -> None:
    s2 = [e for e in fill("S2", C2, 0.0) if not (e["type"] == drop and (drop != "scan" or "code" in e))]
    found = check(scenario(tmp_path), history(*right_parts(), s2))
    assert [v.rule for v in found] == ["interlock"], found
    assert reason in found[0].detail


def right_parts() -> list[list[dict[str, Any]]]:
    events = right()
    return [[e for e in events if e.get("station") != "S2" and not e["type"].startswith("scenario.")]]


def test_a_refused_cylinder_that_gets_gas_breaks_the_interlock(tmp_path: Path) -> None:
    s2 = fill("S2", C2, 0.0)
    s2.insert(4, ev(0.5, "interlock.refused", "S2", cylinder=C2, reasons=["tare.residual_excess"]))
    found = check(scenario(tmp_path), history(*right_parts(), s2))
    assert "interlock" in rules(found)
    assert "refused since its scan" in str(found)


def test_the_valve_opening_long_after_the_close_order_breaks_the_interlock(tmp_path: Path) -> None:
    s2 = fill("S2", C2, 0.0)
    s2.append(ev(9.9, "sim.valve", "S2", open=True))  # 0.9 s after the close order: not in flight
    found = check(scenario(tmp_path), history(*right_parts(), s2))
    assert [v.rule for v in found] == ["interlock"]
    assert "after the close order" in found[0].detail


def test_a_mass_above_tare_plus_max_fill_is_a_violation(tmp_path: Path) -> None:
    events = history(*right_parts(), fill("S2", C2, 0.0, gross=15.0 + 14.9 + 0.05))
    found = check(scenario(tmp_path), events)
    assert [v.rule for v in found] == ["max_fill"]
    assert found[0].station == "S2"
    assert (
        check(scenario(tmp_path), history(*right_parts(), fill("S2", C2, 0.0, gross=15.0 + 14.9 + 0.01)))
        == []
    )


def stuck_fill(*, alarm: bool) -> list[dict[str, Any]]:
    """S1's valve stuck open at 5 s: it stays open after the cut-off; the mass runs over."""
    events = [e for e in fill("S1", C1, 0.0, gross=33.0) if not (e["type"] == "sim.valve" and not e["open"])]
    events.append(ev(14.6, "sim.valve", "S1", open=False))
    if alarm:
        events += [ev(10.2, "alarm.raised", "S1", alarm_id="S1.stuck_open", kind="valve.stuck_open",
                      severity="critical", message=""),
                   ev(10.2, "station.state", "S1", state="fault", cylinder=C1)]  # fmt: skip
    return events


@pytest.mark.parametrize("alarm", [True, False])
def test_a_valve_stuck_open_must_raise_its_critical_alarm_and_fault_the_station(
    tmp_path: Path, alarm: bool
) -> None:
    # The fault step runs at 5 s for 3 s, in the fill; the valve stays open past the close order.
    sc = scenario(tmp_path, "valve", "stuck_open")
    events = history(
        stuck_fill(alarm=alarm), fill("S2", C2, 0.0), fill("S1", C2, 20.0, login=False), fault_at=5.0
    )
    events = [e for e in events if not (e["type"] == "sim.mass" and e["station"] == "S1" and e["ts"] < 11)]
    events.append(ev(15.1, "sim.mass", "S1", cylinder=C1, gross_kg=33.0))
    events.sort(key=lambda e: e["ts"])
    found = check(sc, events)
    if alarm:
        assert found == []
    else:
        assert rules(found) == ["stuck_open"]
        assert all(v.case == "valve.stuck_open@filling" for v in found)


def test_an_abort_without_a_record_id_or_reported_twice_is_a_violation(tmp_path: Path) -> None:
    s2 = fill("S2", C2, 0.0)
    s2[10] = ev(10.0, "fill.aborted", "S2", cylinder=C2, reason="device.valve_lost")
    found = check(scenario(tmp_path), history(*right_parts(), s2))
    assert rules(found) == ["record", "unaffected"]
    assert "without a record id" in str(found)
    twice = [*fill("S2", C2, 0.0), ev(10.1, "fill.completed", "S2", cylinder=C2, record_id="fill-S2-0.0")]
    assert "reported 2 times" in str(check(scenario(tmp_path), history(*right_parts(), twice)))


def test_a_label_scanned_while_a_station_fills_changes_nothing(tmp_path: Path) -> None:
    s2 = fill("S2", C2, 0.0)
    # Scanned once the station shows filling, before its valve's open order (its marker is slow).
    s2.insert(5, ev(1.0, "scan", "S2", raw=C1, code=C1))
    assert check(scenario(tmp_path), history(*right_parts(), s2)) == []


def test_a_fill_whose_valve_opened_must_end_with_a_record(tmp_path: Path) -> None:
    s2 = [e for e in fill("S2", C2, 0.0) if e["type"] != "fill.completed"]  # it ran, never reported
    found = check(scenario(tmp_path), history(*right_parts(), s2))
    assert "record" in rules(found)
    assert "never ended (no record)" in str(found)


def test_with_a_platform_every_fill_record_is_stored_there_exactly_once(tmp_path: Path) -> None:
    sc = scenario(tmp_path)
    sc = attrs.evolve(
        sc, platform=PlatformSpec(), steps=(*sc.steps, Step(3, "wait_sync", None, {"timeout_s": 9}))
    )
    events = right()
    ids = [e["record_id"] for e in events if e["type"] == "fill.completed"]
    stored = [ev(50.0, "platform.stored", record_id=rid, kind="fill") for rid in ids]
    assert check(sc, events + stored + [ev(50.1, "platform.duplicate", record_id=ids[0])]) == []
    missing = check(sc, events + stored[1:])
    assert rules(missing) == ["record"]
    assert "0 times" in missing[0].detail
    twice = check(sc, events + stored + stored[:1])
    assert rules(twice) == ["record"]
    assert "stored record" in str(twice)
    assert "2 times" in str(twice)


def test_a_faulted_station_must_end_idle_or_done_or_out_of_service_with_an_alarm(tmp_path: Path) -> None:
    sc = scenario(tmp_path)
    stuck = [*right(), ev(45.0, "station.state", "S1", state="rejected", cylinder=C2)]
    assert rules(check(sc, stuck)) == ["end_state"]
    raised = ev(45.0, "alarm.raised", "S1", alarm_id="S1.out_of_service", kind="station.out_of_service",
                severity="high", message="")  # fmt: skip
    out = ev(45.1, "station.state", "S1", state="out_of_service")
    assert check(sc, [*right(), raised, out]) == []
    cleared = ev(45.2, "alarm.cleared", "S1", alarm_id="S1.out_of_service", kind="station.out_of_service",
                 severity="high", message="")  # fmt: skip
    found = check(sc, [*right(), raised, cleared, out])
    assert rules(found) == ["end_state"]
    assert "no alarm standing" in found[0].detail


def test_a_faulted_station_the_script_fills_again_must_complete_a_fill_after_its_fault(
    tmp_path: Path,
) -> None:
    gone = ("fill.completed", "valve.command", "sim.valve", "sim.mass")  # the fill after it never came
    events = [e for e in right() if not (e["type"] in gone and e["ts"] > 15)]
    found = check(scenario(tmp_path), events)
    assert rules(found) == ["recovery"]
    assert found[0].case == "scale.disconnect@idle"


def test_anything_abnormal_before_a_station_s_own_fault_or_at_the_control_is_a_violation(
    tmp_path: Path,
) -> None:
    sc = scenario(tmp_path)
    early = ev(3.0, "alarm.raised", "S1", alarm_id="S1.valve_lost", kind="device.valve_lost", severity="high",
               message="")  # fmt: skip
    assert rules(check(sc, [*right(), early])) == ["unaffected"]
    control = ev(3.0, "station.state", "S2", state="fault", cylinder=C2)
    found = check(sc, sorted([*right(), control], key=lambda e: e["ts"]))
    assert "unaffected" in rules(found)
    assert found[0].case == "control"
    refused = ev(3.0, "interlock.refused", "S2", cylinder=C2, reasons=["device.scale_unavailable"])
    assert "unaffected" in rules(check(sc, [*right(), refused]))
    no_fill = [e for e in right() if not (e["type"] == "fill.completed" and e["station"] == "S2")]
    assert "1 fills completed" not in str(check(sc, no_fill))
    assert "0 fills completed, the script waited for 1" in str(check(sc, no_fill))


def test_a_wait_that_timed_out_or_a_script_that_did_not_end_is_a_violation(tmp_path: Path) -> None:
    sc = scenario(tmp_path)
    timed_out = [*right(), ev(45.0, "scenario.timeout", index=1, do="wait")]
    found = check(sc, timed_out)
    assert rules(found) == ["script"]
    assert found[0].station == "S1"
    assert "state:awaiting_postcheck timed out" in found[0].detail
    unfinished = [e for e in right() if e["type"] != "scenario.done"]
    assert rules(check(sc, unfinished)) == ["script"]


def frozen_fill(cause: str, closed_after_s: float) -> list[dict[str, Any]]:
    """S1's scale freezes 5 s into its fill (the fault step at 6 s); the valve is ordered closed
    for `cause` that long after, and closes 0.15 s later."""
    events = [e for e in fill("S1", C1, 1.0) if e["type"] not in ("valve.command", "sim.valve")
              or e["open"]]  # fmt: skip
    events += [ev(6.0 + closed_after_s, "valve.command", "S1", open=False, cause=cause),
               ev(6.15 + closed_after_s, "sim.valve", "S1", open=False)]  # fmt: skip
    return events


@pytest.mark.parametrize(
    ("cause", "after_s", "broken"),
    [("fill.reading_not_credible", 0.2, False), ("fill.stalled", 5.0, True),
     ("fill.reading_not_credible", 2.0, True), ("cut_off", 0.1, False)],
)  # fmt: skip
def test_a_scale_frozen_during_a_fill_must_end_it_as_not_credible_at_once(
    tmp_path: Path, cause: str, after_s: float, broken: bool
) -> None:
    sc = scenario(tmp_path, "scale", "freeze")
    events = history(frozen_fill(cause, after_s), fill("S2", C2, 0.0), fill("S1", C2, 20.0, login=False),
                     fault_at=6.0)  # fmt: skip
    assert fault_cases(sc, events)[0].name == "scale.freeze@filling"
    assert ("frozen_scale" in rules(check(sc, events))) == broken
