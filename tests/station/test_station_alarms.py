"""The floor's alarm desk and its board: one path for every alarm (stored, published, on the
board), ISA-18.2 states as the console sees them, and every text of the alarm table rendered."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from domain.alarm_kinds import ALARM_TEXTS, GUARD_RULE_TEXTS, AlarmKind
from domain.alarm_notices import AlarmChange, AlarmNotice, alarm_message, cleared, raised
from domain.events import AlarmAcknowledged, AlarmCleared, AlarmRaised, FloorEvent
from domain.records import AlarmRecord
from supervisor.station.alarm_desk import AlarmDesk
from supervisor.station.alarms import AlarmState


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _desk(lang: str = "zh") -> tuple[AlarmDesk, list[AlarmRecord], list[FloorEvent], _Clock]:
    records: list[AlarmRecord] = []
    events: list[FloorEvent] = []
    clock = _Clock()
    ids = iter(range(1, 1000))
    desk = AlarmDesk(records.append, events.append, wall_now=lambda: "T", new_id=lambda k: f"{k}-{next(ids)}",
                     clock=clock, lang=lang)  # fmt: skip
    return desk, records, events, clock


_LOST = raised("S1.scale_lost", AlarmKind.DEVICE_SCALE_LOST, "S1", detail="timeout")


def test_an_alarm_is_stored_then_published_then_on_the_board() -> None:
    desk, records, events, clock = _desk()
    clock.now = 5.0
    desk.post(_LOST)
    message = "与秤失去联系: timeout"
    assert records == [AlarmRecord("alarm-1", "S1.scale_lost", "device.scale_lost", "high", message, "raised",
                                   "T", "S1")]  # fmt: skip
    assert events == [
        AlarmRaised("S1.scale_lost", "device.scale_lost", "high", "与秤失去联系: timeout", "S1")
    ]
    alarm = desk.board.alarms["S1.scale_lost"]
    assert (alarm.state, alarm.raised_at, dict(alarm.params)) == (
        AlarmState.UNACKNOWLEDGED,
        5.0,
        {"detail": "timeout"},
    )
    desk.post(_LOST.cleared())  # the clear says what the raise said
    assert (records[-1].message, records[-1].event) == ("与秤失去联系: timeout", "cleared")
    assert events[-1] == AlarmCleared(
        "S1.scale_lost", "device.scale_lost", "high", "与秤失去联系: timeout", "S1"
    )


def test_the_message_is_in_the_floors_language() -> None:
    desk, records, _, _ = _desk("en")
    desk.post(raised("S1.reading_not_credible", AlarmKind.FILL_READING_NOT_CREDIBLE, "S1", rule="stopped"))
    desk.post(cleared("post_check.C1", AlarmKind.CHECK_POST_FAILED, "S1", code="C1"))
    assert [r.message for r in records] == [
        "scale reading not credible (the reading stopped while the valve is open): "
        "valve closed; check the scale",
        "post-fill check passed again: C1",
    ]


@pytest.mark.parametrize("kind", list(AlarmKind))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_kind_has_a_raise_text_that_renders(kind: AlarmKind, lang: str) -> None:
    params = {"detail": "d", "code": "C1", "rule": "stopped", "error": "E", "actor": "S1.scale"}
    for text in ALARM_TEXTS[kind]:
        notice = AlarmNotice(AlarmChange.RAISED, "a", kind, "S1", params, text)
        message = notice.message(lang)
        assert "{" not in message
        assert "}" not in message
    assert ALARM_TEXTS[kind]["raised"].render(lang, params)
    assert set(GUARD_RULE_TEXTS) >= {"dead_reckoning", "time_cap", "stopped", "rate_low", "rate_high"}


def test_a_parameter_left_out_leaves_its_place_empty() -> None:
    assert raised("x", AlarmKind.FILL_OVER_MAX, None).message("en") == "above the maximum fill: "


def test_an_alarm_that_came_and_went_stays_until_acknowledged() -> None:
    desk, records, events, _ = _desk()
    board = desk.board
    desk.post(_LOST)
    assert board.unacknowledged() == 1
    desk.post(_LOST.cleared())
    assert board.alarms["S1.scale_lost"].state == AlarmState.CLEARED_UNACKNOWLEDGED
    assert board.unacknowledged() == 1  # nobody misses a fault that came and went
    assert board.acknowledge("S1.scale_lost", "班长王")
    assert board.alarms == {}
    assert records[-1].event == "acknowledged"
    assert events[-1] == AlarmAcknowledged("S1.scale_lost", by="班长王", station="S1")


def test_an_acknowledged_alarm_leaves_when_it_clears() -> None:
    desk, _, _, _ = _desk()
    board = desk.board
    desk.post(_LOST)
    assert board.acknowledge("S1.scale_lost", "SUP1")
    assert board.alarms["S1.scale_lost"].state == AlarmState.ACKNOWLEDGED
    assert board.unacknowledged() == 0
    assert not board.acknowledge("S1.scale_lost", "SUP1")  # once is enough
    desk.post(_LOST.cleared())
    assert board.alarms == {}


def test_a_shelved_alarm_comes_back_unacknowledged_when_the_shelf_time_ends() -> None:
    desk, records, _, _ = _desk()
    board = desk.board
    desk.post(_LOST)
    assert board.shelve("S1.scale_lost", "SUP1", until=60.0)
    assert board.unacknowledged() == 0
    board.unshelve_due(59.0)
    assert board.alarms["S1.scale_lost"].state == AlarmState.SHELVED
    board.unshelve_due(60.0)
    assert board.alarms["S1.scale_lost"].state == AlarmState.UNACKNOWLEDGED
    assert [r.event for r in records] == ["raised", "shelved"]


def test_a_shelving_ends_by_the_floors_clock_with_no_console_timer() -> None:
    desk, _, _, clock = _desk()
    board = desk.board
    desk.post(_LOST)
    assert board.shelve("S1.scale_lost", "SUP1", until=60.0)
    clock.now = 59.9
    assert [a.state for a in board.current()] == [AlarmState.SHELVED]
    clock.now = 60.0
    assert [a.state for a in board.current()] == [AlarmState.UNACKNOWLEDGED]
    assert board.unacknowledged() == 1


def test_unknown_alarms_are_ignored() -> None:
    desk, records, _, _ = _desk()
    board = desk.board
    desk.post(cleared("never-raised", AlarmKind.DEVICE_SCALE_LOST, "S1", "silent"))
    assert board.alarms == {}
    assert [r.event for r in records] == ["cleared"]  # (stored as every clear is)
    assert not board.acknowledge("never-raised", "SUP1")
    assert not board.shelve("never-raised", "SUP1", 1.0)


def test_no_alarm_is_made_outside_the_desk_and_its_board() -> None:
    """One alarm path: an alarm record or an alarm.raised/cleared event is built only by the
    floor's alarm desk (and the board, for acknowledge and shelve); every producer posts an
    AlarmNotice instead. Read from the source, so a second path fails here with its file and line."""
    root = Path(__file__).resolve().parents[1]
    allowed = {root / "supervisor/station/alarm_desk.py", root / "supervisor/station/alarms.py"}
    built = {"AlarmRecord", "AlarmRaised", "AlarmCleared"}
    found = []
    for package in ("supervisor", "actors", "platform_client", "fillfloor", "simulator"):
        for path in sorted((root / package).rglob("*.py")):
            if path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                name = getattr(node, "func", None)
                called = getattr(name, "id", None) or getattr(name, "attr", None)
                if isinstance(node, ast.Call) and called in built:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {called}(...)")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("error", "zh", "en"), [
    ("DeviceCrash", "设备或程序故障", "device or software fault"),
    ("ModbusTimeout: no answer from 10.0.0.5:502 within 0.2 s", "设备无响应", "device not answering"),
])  # fmt: skip
def test_an_actors_failure_is_worded_by_what_it_means_in_the_floors_record_and_every_console(
    error: str, zh: str, en: str
) -> None:
    params = {"actor": "S1.scale", "error": error}
    said = {lang: alarm_message("station.out_of_service", "raised", params, lang) for lang in ("zh", "en")}
    assert said == {
        "zh": f"S1.scale 反复失败（{zh}），工位停用",
        "en": f"S1.scale keeps failing ({en}); station out of service",
    }
