"""ISA-18.2 alarm states as the console sees them."""

from __future__ import annotations

from domain.events import AlarmAcknowledged, AlarmCleared, AlarmRaised, FloorEvent
from domain.records import AlarmRecord
from supervisor.station.alarms import AlarmBoard, AlarmState


def _board() -> tuple[AlarmBoard, list[AlarmRecord], list[FloorEvent]]:
    records: list[AlarmRecord] = []
    events: list[FloorEvent] = []
    board = AlarmBoard(records.append, events.append, lambda: "T", lambda k: f"{k}-1")
    return board, records, events


def _raise(board: AlarmBoard, alarm_id: str = "S1.scale_lost", now: float = 0.0) -> None:
    board.on_event(AlarmRaised(alarm_id, "device.scale_lost", "high", "与秤失去联系", "S1"), now)


def _clear(board: AlarmBoard, alarm_id: str = "S1.scale_lost") -> None:
    board.on_event(AlarmCleared(alarm_id, "device.scale_lost", "high", "与秤失去联系", "S1"), 1.0)


def test_an_alarm_that_came_and_went_stays_until_acknowledged() -> None:
    board, records, events = _board()
    _raise(board)
    assert board.unacknowledged() == 1
    _clear(board)
    assert board.alarms["S1.scale_lost"].state == AlarmState.CLEARED_UNACKNOWLEDGED
    assert board.unacknowledged() == 1  # nobody misses a fault that came and went
    assert board.acknowledge("S1.scale_lost", "班长王")
    assert board.alarms == {}
    assert records[0].event == "acknowledged"
    assert events == [AlarmAcknowledged("S1.scale_lost", by="班长王", station="S1")]


def test_an_acknowledged_alarm_leaves_when_it_clears() -> None:
    board, _, _ = _board()
    _raise(board)
    assert board.acknowledge("S1.scale_lost", "SUP1")
    assert board.alarms["S1.scale_lost"].state == AlarmState.ACKNOWLEDGED
    assert board.unacknowledged() == 0
    assert not board.acknowledge("S1.scale_lost", "SUP1")  # once is enough
    _clear(board)
    assert board.alarms == {}


def test_a_shelved_alarm_comes_back_unacknowledged_when_the_shelf_time_ends() -> None:
    board, records, _ = _board()
    _raise(board)
    assert board.shelve("S1.scale_lost", "SUP1", until=60.0)
    assert board.unacknowledged() == 0
    board.unshelve_due(59.0)
    assert board.alarms["S1.scale_lost"].state == AlarmState.SHELVED
    board.unshelve_due(60.0)
    assert board.alarms["S1.scale_lost"].state == AlarmState.UNACKNOWLEDGED
    assert [r.event for r in records] == ["shelved"]


def test_unknown_alarms_are_ignored() -> None:
    board, _, _ = _board()
    _clear(board, "never-raised")
    assert board.alarms == {}
    assert not board.acknowledge("never-raised", "SUP1")
    assert not board.shelve("never-raised", "SUP1", 1.0)
