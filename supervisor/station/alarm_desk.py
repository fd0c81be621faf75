"""The floor's alarm desk: the one path every alarm takes, whoever raises it.

A producer (a station's core through its coordinator, a station's supervision when it gives up)
posts an `AlarmNotice`; the desk renders its message in the floor's language, hands the alarm
record to the record sink (so it reaches the `alarm` table and the platform), publishes
`alarm.raised` / `alarm.cleared` on the bus and keeps the board (ISA-18.2 states,
`supervisor.station.alarms`). The desk belongs to the floor, not to a console: an alarm raised
while no console runs is stored and on the board the next console is given. A console only reads
the board and hands it acknowledge and shelve orders.

Everything here is synchronous and never waits (the sink and the bus never block), so a coordinator
may post from its hot path.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.alarm_notices import AlarmChange, AlarmNotice
from domain.events import AlarmCleared, AlarmRaised, FloorEvent
from domain.records import AlarmRecord
from supervisor.station.alarms import AlarmBoard

__all__ = ["AlarmDesk"]


class AlarmDesk:
    def __init__(
        self,
        record: Callable[[AlarmRecord], None],
        publish: Callable[[FloorEvent], None],
        *,
        wall_now: Callable[[], str],
        new_id: Callable[[str], str],
        clock: Callable[[], float],
        lang: str = "zh",
    ) -> None:
        """`record` stores (the record sink's `put`), `publish` tells observers (the bus), `clock`
        is the floor's monotonic time (when an alarm went on the board), `lang` the records'."""
        self._record = record
        self._publish = publish
        self._wall_now = wall_now
        self._new_id = new_id
        self._clock = clock
        self.lang = lang
        self.board = AlarmBoard(record, publish, wall_now, new_id, clock)

    def post(self, notice: AlarmNotice) -> None:
        """Store, publish and put on the board (in that order: what observers see is stored)."""
        message = notice.message(self.lang)
        severity = str(notice.severity)
        self._record(AlarmRecord(
            record_id=self._new_id("alarm"), alarm_id=notice.alarm_id, kind=notice.kind, severity=severity,
            message=message, event=str(notice.change), at=self._wall_now(), station=notice.station,
        ))  # fmt: skip
        event = AlarmRaised if notice.change == AlarmChange.RAISED else AlarmCleared
        self._publish(event(notice.alarm_id, notice.kind, severity, message, notice.station))
        self.board.follow(notice, message, self._clock())
