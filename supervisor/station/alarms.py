"""The floor's alarm list with ISA-18.2 states, for the console to show and acknowledge.

ISA-18.2 / IEC 62682: an alarm is raised (active, unacknowledged); an operator acknowledges it;
when its condition clears it returns to normal. An alarm that cleared before anyone acknowledged
it stays on the list, unacknowledged, until acknowledged: nobody misses a fault that came and went.
An acknowledged alarm that has cleared leaves the list. Shelving hides an alarm for a while
(nuisance handling) and is audited like every other console action.

The floor's alarm desk (`supervisor.station.alarm_desk`) puts every alarm it raises or clears on
the board, whether or not a console runs; the board answers `acknowledge` / `shelve` from a console
with an event and a record (the record goes to the platform like every other alarm record). Each
alarm keeps its kind and parameters beside the message rendered in the floor's language, so a
console may say it in its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

from attrs import evolve, field, frozen

from domain.alarm_notices import AlarmChange, AlarmNotice
from domain.events import AlarmAcknowledged, AlarmCleared, AlarmRaised, AlarmShelved, FloorEvent
from domain.records import AlarmRecord

__all__ = ["Alarm", "AlarmBoard", "AlarmState"]


class AlarmState(StrEnum):
    UNACKNOWLEDGED = "unacknowledged"  # active, not acknowledged
    ACKNOWLEDGED = "acknowledged"  # active, acknowledged
    CLEARED_UNACKNOWLEDGED = "cleared_unacknowledged"  # returned to normal, never acknowledged
    SHELVED = "shelved"


@frozen
class Alarm:
    alarm_id: str
    kind: str
    severity: str
    message: str
    station: str | None
    state: AlarmState
    raised_at: float
    shelved_until: float | None = None
    params: Mapping[str, str] = field(factory=dict, hash=False)  # the message's, by name
    text_name: str = "raised"  # which of its kind's texts the message is (domain.alarm_kinds)


class AlarmBoard:
    def __init__(
        self,
        record: Callable[[AlarmRecord], None],
        publish: Callable[[FloorEvent], None],
        wall_now: Callable[[], str],
        new_id: Callable[[str], str],
        clock: Callable[[], float],
    ) -> None:
        """`clock` is the floor's monotonic time: a shelving ends by it whenever the board is read
        or ordered (no timer of a console's needed)."""
        self._record = record
        self._publish = publish
        self._wall_now = wall_now
        self._new_id = new_id
        self._clock = clock
        self.alarms: dict[str, Alarm] = {}

    def post(self, notice: AlarmNotice, message: str) -> None:
        """An alarm raised or cleared: stored, published, then on the board (in that order: what
        observers see is stored)."""
        severity = str(notice.severity)
        self._record(AlarmRecord(
            record_id=self._new_id("alarm"), alarm_id=notice.alarm_id, kind=notice.kind, severity=severity,
            message=message, event=str(notice.change), at=self._wall_now(), station=notice.station,
        ))  # fmt: skip
        changed = AlarmRaised if notice.change == AlarmChange.RAISED else AlarmCleared
        self._publish(changed(notice.alarm_id, notice.kind, severity, message, notice.station))
        now = self._clock()
        alarm_id = notice.alarm_id
        if notice.change == AlarmChange.RAISED:
            self.alarms[alarm_id] = Alarm(
                alarm_id, notice.kind, str(notice.severity), message, notice.station,
                AlarmState.UNACKNOWLEDGED, now, params=notice.params, text_name=notice.text_name,
            )  # fmt: skip
        elif (alarm := self.alarms.get(alarm_id)) is not None:
            if alarm.state == AlarmState.UNACKNOWLEDGED:
                self.alarms[alarm_id] = evolve(alarm, state=AlarmState.CLEARED_UNACKNOWLEDGED)
            else:
                del self.alarms[alarm_id]  # acknowledged (or shelved) and back to normal

    def get(self, alarm_id: str) -> Alarm | None:
        return self.alarms.get(alarm_id)

    def current(self) -> list[Alarm]:
        """The list as it stands now (what a console is given)."""
        self.unshelve_due(self._clock())
        return list(self.alarms.values())

    def unacknowledged(self) -> int:
        """What the console's header counts."""
        self.unshelve_due(self._clock())
        return sum(
            a.state in (AlarmState.UNACKNOWLEDGED, AlarmState.CLEARED_UNACKNOWLEDGED)
            for a in self.alarms.values()
        )

    def acknowledge(self, alarm_id: str, who: str) -> bool:
        self.unshelve_due(self._clock())
        alarm = self.alarms.get(alarm_id)
        if alarm is None or alarm.state not in (AlarmState.UNACKNOWLEDGED, AlarmState.CLEARED_UNACKNOWLEDGED):
            return False
        if alarm.state == AlarmState.CLEARED_UNACKNOWLEDGED:
            del self.alarms[alarm_id]
        else:
            self.alarms[alarm_id] = evolve(alarm, state=AlarmState.ACKNOWLEDGED)
        self._note(alarm, "acknowledged", who)
        return True

    def shelve(self, alarm_id: str, who: str, until: float) -> bool:
        alarm = self.alarms.get(alarm_id)
        if alarm is None:
            return False
        self.alarms[alarm_id] = evolve(alarm, state=AlarmState.SHELVED, shelved_until=until)
        self._note(alarm, "shelved", who)
        return True

    def unshelve_due(self, now: float) -> None:
        """Shelving ends by itself: the alarm comes back unacknowledged."""
        for alarm in list(self.alarms.values()):
            if (
                alarm.state == AlarmState.SHELVED
                and alarm.shelved_until is not None
                and now >= alarm.shelved_until
            ):
                self.alarms[alarm.alarm_id] = evolve(
                    alarm, state=AlarmState.UNACKNOWLEDGED, shelved_until=None
                )

    def _note(self, alarm: Alarm, event: str, who: str) -> None:
        self._record(AlarmRecord(
            record_id=self._new_id("alarm"), alarm_id=alarm.alarm_id, kind=alarm.kind,
            severity=alarm.severity, message=f"{event} by {who}", event=event, at=self._wall_now(),
            station=alarm.station,
        ))  # fmt: skip
        noted = AlarmAcknowledged if event == "acknowledged" else AlarmShelved
        self._publish(noted(alarm.alarm_id, who, alarm.station))
