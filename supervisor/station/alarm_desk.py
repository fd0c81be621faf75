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

from domain.alarm_notices import AlarmNotice
from domain.events import FloorEvent
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
        is the floor's monotonic time (when an alarm went on the board), `lang` the records'. The
        board holds these outlets: it stores and publishes the changes people make (ack, shelve)."""
        self.lang = lang
        self.board = AlarmBoard(record, publish, wall_now, new_id, clock)

    def post(self, notice: AlarmNotice) -> None:
        """Worded in the floor's language, then stored, published and put on the board."""
        self.board.post(notice, notice.message(self.lang))
