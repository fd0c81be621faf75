"""The console's picture of the floor follows the server's snapshot and events, and ignores junk."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supervisor.console.protocol import ProtocolError, ServerMessage, Snapshot, decode_server
from tests.support.tui_sample import T0, sample_model
from tui.model import ConsoleModel


def event(event_type: str, at: float = T0, **fields: Any) -> ServerMessage:
    """An event message as the console's link reads it off the wire."""
    return decode_server(json.dumps({"type": "event", "at": at, "event": {"type": event_type, **fields}}))


def test_a_snapshot_gives_stations_alarms_actors_and_figures() -> None:
    m = sample_model()
    assert list(m.stations) == ["S1", "S2", "S3", "S4"]
    assert m.stations["S1"].gross_kg == 24.31
    assert m.stations["S1"].target_kg == 29.7
    assert m.stations["S2"].last_problem == "label.foreign_unit"  # why it stands rejected
    assert m.unacknowledged == 1
    assert m.user == "王班长"
    assert m.role == "supervisor"
    assert [a.alarm_id for a in m.alarms_in_order()] == [
        "S3.scale_lost", "S1.valve_stuck_open", "S2.scanner_lost"]  # fmt: skip
    assert m.shift["fills"] == 42


def test_live_weight_state_and_history_follow_the_events() -> None:
    m = sample_model()
    m.receive(event("station.weight", station="S1", gross_kg=28.9, stable=False, target_kg=29.7))
    assert m.stations["S1"].gross_kg == 28.9
    m.receive(event("fill.completed", at=T0 + 5, station="S1", cylinder="HY00120001003", record_id="r1",
                    tare_kg=15.2, target_kg=29.7, gross_kg=29.703, net_kg=14.5, error_g=3,
                    flags=[]))  # fmt: skip
    assert m.stations["S1"].recent_fills[0]["cylinder"] == "HY00120001003"
    assert m.stations["S1"].recent_fills[0]["at"] == T0 + 5
    m.receive(event("station.state", station="S4", state="verifying", cylinder="HY00120004000"))
    refused = event("interlock.refused", station="S4", cylinder="HY00120004000", reasons=["precheck.missing"])
    m.receive(refused)
    assert m.stations["S4"].last_problem == "precheck.missing"
    m.receive(event("station.state", station="S4", state="filling", cylinder="HY00120004000"))
    assert m.stations["S4"].last_problem is None  # a new fill: the old problem is history
    m.receive(event("station.state", station="S4", state="idle"))
    assert m.stations["S4"].cylinder is None
    m.receive(event("operator.logout", station="S4", operator="OP04"))
    assert m.stations["S4"].operator is None


def test_alarms_move_through_the_isa_18_2_states_as_on_the_floor() -> None:
    m = sample_model()
    m.receive(event("alarm.raised", alarm_id="S4.valve_mismatch", kind="valve.feedback_mismatch",
                    severity="high", message="阀门反馈不一致", station="S4"))  # fmt: skip
    assert m.unacknowledged == 2
    assert m.stations["S4"].last_problem == "alarm:S4.valve_mismatch"  # worded from the alarm, on screen
    m.receive(event("alarm.cleared", alarm_id="S4.valve_mismatch", kind="valve.feedback_mismatch",
                    severity="high", message="阀门反馈不一致", station="S4"))  # fmt: skip
    assert m.alarms["S4.valve_mismatch"].state == "cleared_unacknowledged"
    assert m.unacknowledged == 2
    m.receive(event("alarm.acknowledged", alarm_id="S4.valve_mismatch", by="王班长", station="S4"))
    assert "S4.valve_mismatch" not in m.alarms
    assert m.unacknowledged == 1
    m.receive(event("alarm.acknowledged", alarm_id="S3.scale_lost", by="王班长", station="S3"))
    assert m.alarms["S3.scale_lost"].state == "acknowledged"
    assert m.unacknowledged == 0
    m.receive(event("alarm.shelved", alarm_id="S3.scale_lost", by="王班长", station="S3"))
    assert m.alarms["S3.scale_lost"].state == "shelved"


def test_actor_health_updates_the_tree_and_keeps_the_last_error() -> None:
    m = sample_model()
    m.receive(event("actor.health", actor="S3.scale", state="running", restarts=4))
    scale = next(a for a in m.actors if a["actor"] == "S3.scale")
    assert scale["state"] == "running"
    assert scale["restarts"] == 4
    assert "DeviceCrash" in scale["error"]
    m.receive(event("actor.health", actor="S5.scale", state="starting", restarts=0))
    assert m.actors[-1]["actor"] == "S5.scale"
    assert m.actors[-1]["depth"] == 2


@pytest.mark.parametrize("junk", [
    {}, {"type": 3}, {"type": "event"}, {"type": "event", "at": T0, "event": "x"},
    {"type": "snapshot", "snapshot": 1},
    {"type": "event", "at": T0, "event": {"type": "station.weight", "station": "S1", "gross_kg": "heavy",
                                          "stable": True}},  # not a number
    {"type": "event", "at": T0, "event": {"type": "alarm.raised", "alarm_id": None}},
    {"type": "event", "at": T0, "event": {"type": "interlock.refused", "station": "S1", "reasons": "no"}},
    {"type": "event", "at": T0, "event": {"type": "actor.health", "actor": None}},
])  # fmt: skip
def test_junk_from_the_server_does_not_decode(junk: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):  # (the link passes it over: tests/console/test_console_protocol.py)
        decode_server(json.dumps(junk))


def test_what_decodes_but_does_not_fit_is_ignored_and_never_raises() -> None:
    m = sample_model()
    before = m.version
    m.receive(event("station.weight", station="S9", gross_kg=1.0, stable=True))  # no such station
    m.receive(event("alarm.cleared", alarm_id="nope", kind="k", severity="low", message=""))
    m.receive(Snapshot({"stations": [1, "x", {"id": "S7", "recent_fills": "no"}], "alarms": [None],
                        "actors": "no", "shift": []}))  # fmt: skip
    assert m.version > before
    assert list(m.stations) == ["S7"]
    assert m.alarms == {}
    assert m.actors == []
    assert m.shift == {}


def test_a_fresh_model_is_connecting_with_nothing_to_show() -> None:
    m = ConsoleModel()
    assert m.link == "connecting"
    assert m.stations == {}
    assert m.unacknowledged == 0


def test_platform_sync_figures_follow_the_upload_attempts() -> None:
    m = sample_model()
    assert m.sync is not None
    assert m.sync["backlog"] == 12
    m.receive(event("sync.batch", sent=12, accepted=12, rejected=0, status="ok", duplicates=0, detail="",
                    backlog=0, dead_letters=1, last_success=T0 + 5))  # fmt: skip
    assert m.sync["backlog"] == 0
    assert m.sync["status"] == "ok"
    assert m.sync["last_success"] == T0 + 5
    m.receive(event("sync.batch", sent=3, accepted=0, rejected=0, status="unreachable", duplicates=0,
                    detail="refused", backlog=3, dead_letters=1, last_success=None))  # fmt: skip
    assert m.sync["status"] == "unreachable"
    assert m.sync["last_success"] == T0 + 5, "a failure does not forget the last success"


def test_an_empty_scales_noise_shows_as_zero_not_minus_zero() -> None:
    from tui.widgets import _kg

    assert [_kg(-0.004), _kg(-0.006), _kg(14.5), _kg(None)] == ["0.00", "-0.01", "14.50", "—"]


def test_a_device_lost_alarm_moves_its_actors_link_on_f4_until_it_clears() -> None:
    m = sample_model()
    link = {a["actor"]: a.get("link") for a in m.actors}
    assert link["S2.scale"] == "up"
    fields = {"alarm_id": "S2.scale_lost", "kind": "device.scale_lost", "severity": "high",
              "message": "与秤失去联系", "station": "S2"}  # fmt: skip
    m.receive(event("alarm.raised", **fields))
    assert {a["actor"]: a.get("link") for a in m.actors}["S2.scale"] == "lost"
    m.receive(event("actor.health", actor="S2.scale", state="running", restarts=0))  # (says nothing of it)
    assert {a["actor"]: a.get("link") for a in m.actors}["S2.scale"] == "lost"
    m.receive(event("alarm.cleared", **fields))
    assert {a["actor"]: a.get("link") for a in m.actors}["S2.scale"] == "up"
