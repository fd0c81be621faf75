"""End to end: `fillfloor sim` runs whole scenarios over the real protocols, and the events say
what a user and the ground truth would see (docs/scenarios.md is the contract).

Each scenario runs once (module fixtures) as a real process: simulated scales and valves on Modbus
TCP and RTU, scanners on ptys, the real supervisor, a fresh SQLite database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from domain.checks import counts_as_pass, standard_items
from supervisor.storage import schema as t
from tests.support.scenario_text import BASE
from tests.support.sim_run import SCENARIOS, assert_never_above_max_fill, of, run_sim, valve_opened


def checks_recorded(db: Path) -> list[tuple[str, str, str, dict[str, str]]]:
    """The check records a run left in its database: (cylinder, phase, result, items)."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            c = t.check_record.c
            rows = conn.execute(select(c.cylinder_code, c.phase, c.result, c["items"]).order_by(c.id)).all()
    finally:
        engine.dispose()
    return [(row[0], row[1], row[2], dict(row[3])) for row in rows]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, list[dict[str, Any]], Path]:
    # The example of docs/scenarios.md, "File format".
    scenario = SCENARIOS / "demo.toml"
    tmp = tmp_path_factory.mktemp("example")
    db = tmp / "floor.db"
    return (scenario, *run_sim(scenario, tmp, extra=["--db", f"sqlite:///{db}"]), db)


def test_the_example_fills_one_cylinder_and_refuses_the_overdue_one(example: Any) -> None:
    scenario, code, err, events, db = example
    assert code == 0, err
    [done] = of(events, "fill.completed", "S1")
    assert done["cylinder"] == "HY00120000123"
    assert abs(done["error_g"]) <= 100
    assert done["flags"] == []
    [refused] = of(events, "interlock.refused", "S1")
    assert refused["cylinder"] == "HY00120000124"
    assert "cylinder.inspection_overdue" in refused["reasons"]
    assert valve_opened(events)["S1"] == 1  # ground truth: the valve opened for the one fill only
    assert of(events, "scenario.timeout") == []
    assert events[-1]["type"] in ("scenario.done", "station.state", "sim.mass")
    assert all(isinstance(e["ts"], float) for e in events)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert_never_above_max_fill(scenario, events)
    # Its checks name a few items (`ok`, `none`, `normal`, an extra `appearance`); as submitted
    # they answer every item, and both are passes that count.
    checks = checks_recorded(db)
    assert [(cylinder, phase, result) for cylinder, phase, result, _ in checks] == [
        ("HY00120000123", "pre", "pass"), ("HY00120000123", "post", "pass")]  # fmt: skip
    assert all(counts_as_pass(phase, True, items) for _, phase, _, items in checks), checks
    assert checks[0][3]["appearance"] == "ok"
    assert checks[1][3]["leak"] == "none"


def check_step(do: str, result: str, items: str = "") -> str:
    """A check step of the example's cylinder at S1, as a scenario file writes it."""
    step = f'[[step]]\ndo = "{do}"\nstation = "S1"\ncylinder = "HY00120000123"\nresult = "{result}"\n'
    return step + (f"items = {items}\n" if items else "")


CHECK_STEPS = BASE + "".join([
    check_step("precheck", "pass"),
    check_step("postcheck", "fail"),
    check_step("postcheck", "fail", '{ leak = "failed", bulge = "not_checked" }'),
    check_step("precheck", "pass", '{ valve = "not_checked" }'),
])  # fmt: skip


def test_a_check_step_answers_every_item_as_its_result_means(tmp_path: Path) -> None:
    scenario, db = tmp_path / "checks.toml", tmp_path / "floor.db"
    scenario.write_text(CHECK_STEPS, encoding="utf-8")
    code, err, _ = run_sim(scenario, tmp_path, timeout=120, extra=["--db", f"sqlite:///{db}"])
    assert code == 0, err
    pre, post = dict.fromkeys(standard_items("pre"), "ok"), dict.fromkeys(standard_items("post"), "ok")
    assert [(phase, result, items) for _, phase, result, items in checks_recorded(db)] == [
        ("pre", "pass", pre),  # a pass alone: every item checked and passed
        ("post", "fail", post | {"other": "failed"}),  # a fail alone: it failed on something
        ("post", "fail", post | {"leak": "failed", "bulge": "not_checked"}),  # as named
        ("pre", "pass", pre | {"valve": "not_checked"}),  # an incomplete pass, for the floor to refuse
    ]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]]]:
    return run_sim(SCENARIOS / "refusals.toml", tmp_path_factory.mktemp("refusals"))


def test_every_refusal_from_the_floor_and_the_valve_never_opens_for_them(refusals: Any) -> None:
    code, err, events = refusals
    assert code == 0, err
    reasons = {r for e in of(events, "interlock.refused") for r in e["reasons"]}
    assert reasons >= {
        "operator.none", "operator.certificate_expired", "operator.unknown", "label.unreadable",
        "label.foreign_unit", "cylinder.unknown", "cylinder.inspection_overdue", "cylinder.scrapped",
        "cylinder.blocked", "cylinder.not_own_property", "cylinder.past_scrap_date", "precheck.missing",
        "precheck.failed", "tare.residual_excess", "tare.below_archive", "station.paused", "cylinder.in_use",
    }  # fmt: skip
    assert of(events, "scenario.timeout") == []
    # Ground truth: the valve opened once, for the one eligible, checked cylinder at the end.
    assert valve_opened(events) == {"S1": 1}
    assert len(of(events, "fill.completed")) == 1


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]]]:
    return run_sim(SCENARIOS / "normal_shift.toml", tmp_path_factory.mktemp("shift"))


def test_a_normal_shift_over_tcp_and_rtu_in_both_cut_off_modes(shift: Any) -> None:
    code, err, events = shift
    assert code == 0, err
    done = of(events, "fill.completed")
    assert sorted((e["station"], e["cylinder"]) for e in done) == [
        ("S1", "HY00120000201"), ("S1", "HY00120000203"), ("S2", "HY00120000202"), ("S2", "HY00120000204"),
    ]  # fmt: skip
    # In band (docs/domain.md: ± 0.5 kg for these models); the accuracy itself is the benchmark's, on
    # a quiet machine: here the suite's other processes share the two cores.
    assert all(e["flags"] == [] and abs(e["error_g"]) <= 300 for e in done), done
    assert [e["cylinder"] for e in of(events, "interlock.refused")] == ["HY00120000205"]
    assert of(events, "scenario.timeout") == []
    assert_never_above_max_fill(SCENARIOS / "normal_shift.toml", events)
    for e in done:  # the ground truth agrees with the re-weigh (5 g noise)
        truth = [m for m in of(events, "sim.mass", e["station"]) if m["cylinder"] == e["cylinder"]]
        assert abs(truth[-1]["gross_kg"] - e["gross_kg"]) <= 0.03


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]]]:
    return run_sim(SCENARIOS / "faults.toml", tmp_path_factory.mktemp("faults"))


@pytest.mark.parametrize(
    ("station", "reason"),
    [("SD", "device.scale_lost"), ("VD", "device.valve_lost"), ("SF", "fill.reading_not_credible"),
     ("SG", "device.scale_lost"), ("SC", "device.scale_lost"), ("VC", "device.valve_lost"),
     ("VG", "device.valve_lost"), ("RD", "device.scale_lost")],
)  # fmt: skip
def test_a_device_fault_during_a_fill_closes_the_valve_and_the_station_comes_back(
    faults: Any, station: str, reason: str
) -> None:
    code, err, events = faults
    assert code == 0, err
    [aborted] = of(events, "fill.aborted", station)
    assert aborted["reason"] == reason
    truth = [e["open"] for e in of(events, "sim.valve", station)]
    # Ground truth: closed at the end (on a loaded machine an RTU indicator may not have started
    # its output before the fault hit: then the valve never opened at all, which is closed too).
    assert truth[-1:] in ([], [False])
    assert of(events, "station.state", station)[-1]["state"] == "idle"


def test_a_valve_stuck_open_raises_a_critical_alarm(faults: Any) -> None:
    _, _, events = faults
    alarms = [a for a in of(events, "alarm.raised", "VS") if a["kind"] == "valve.stuck_open"]
    assert alarms
    assert alarms[0]["severity"] == "critical"


def test_a_scanner_unplugged_while_idle_is_reported_and_scans_again_once_back(faults: Any) -> None:
    _, _, events = faults
    assert [a["kind"] for a in of(events, "alarm.raised", "NX")] == ["device.scanner_lost"]
    assert [a["alarm_id"] for a in of(events, "alarm.cleared", "NX")] == ["NX.scanner_lost"]
    nx = [e for e in events if e.get("station") == "NX" and e["type"] != "actor.health"]
    assert len(of(events, "fill.completed", "NX")) == 1, nx[-12:]


def test_no_fault_lets_a_cylinder_be_filled_above_its_maximum_except_a_valve_stuck_open(faults: Any) -> None:
    _, _, events = faults
    assert_never_above_max_fill(SCENARIOS / "faults.toml", events)
    assert of(events, "scenario.timeout") == []


@pytest.fixture(scope="module")
def network_scanners(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, list[dict[str, Any]]]:
    return run_sim(SCENARIOS / "network_scanners.toml", tmp_path_factory.mktemp("network_scanners"))


def test_network_scanners_scan_and_a_lost_one_is_reported_reconnected_and_scans_again(
    network_scanners: Any,
) -> None:
    code, err, events = network_scanners
    assert code == 0, err
    assert sorted(e["station"] for e in of(events, "fill.completed")) == ["S1", "S2", "S3"]
    [lost] = of(events, "alarm.raised", "S2")
    assert lost["kind"] == "device.scanner_lost"
    assert "connection closed by the scanner" in lost["message"]  # a TCP scanner, not a pty
    assert [a["alarm_id"] for a in of(events, "alarm.cleared", "S2")] == ["S2.scanner_lost"]
    # Its garbage and over-long lines were read and refused as labels; nothing opened for them.
    # (Frames within half a second of each other are one burst: its first is refused, the rest
    # counted, so a garbage fault is one refusal or a few, depending on how its frames fall.)
    garbage = [r for r in of(events, "interlock.refused", "S2") if "label.unreadable" in r["reasons"]]
    assert len(garbage) >= 1
    login = next(i for i, e in enumerate(events) if e["type"] == "scan" and e.get("raw") == "OP02")
    assert not [e for e in events[:login] if e["type"] == "sim.valve" and e["station"] == "S2"]
    assert of(events, "scenario.timeout") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [('today = "2026-11-23"\n[unit]\ncode = "HY0012"\n[[station]]\nid = "S1"\nflow_kg_s = 2\n'
      'valve_delay_ms = 150\n[[step]]\ndo = "fault"\nstation = "S1"\ndevice = "scale"\n'
      'kind = "stuck_open"\nseconds = 1\n',
      'step[0] (do = "fault").kind: stuck_open applies to a valve'),
     ('today = "2026-11-23"\n[unit]\ncode = "HY0012"\ncolour = "red"\n', "unit.colour: unknown key")],
)  # fmt: skip
def test_an_invalid_scenario_exits_2_naming_the_file_the_entry_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    code, err, events = run_sim(bad, tmp_path, timeout=60)
    assert code == 2
    assert f"{bad}: " in err
    assert message in err
    assert events == []
