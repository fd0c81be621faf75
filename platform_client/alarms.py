"""The platform sync's alarm: the platform refusing the unit's key (401/403). Raised once, cleared by
the first request that goes through, also when an earlier run of the sync raised it (a restarted
service, or a sync process started anew, finds it on the floor's board)."""

from __future__ import annotations

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import AlarmNotice, raised
from supervisor.station.alarms import AlarmBoard, AlarmState

__all__ = ["KEY_REFUSED", "key_refused_alarm"]

KEY_REFUSED = "platform.credentials_refused"  # its alarm id (one per floor)


def key_refused_alarm(board: AlarmBoard) -> AlarmNotice | None:
    """The refused-key alarm the board holds as raised and not yet cleared, as a notice to clear."""
    alarm = board.get(KEY_REFUSED)
    if alarm is None or alarm.state in (AlarmState.CLEARED_UNACKNOWLEDGED,):
        return None
    return raised(
        KEY_REFUSED, AlarmKind.PLATFORM_CREDENTIALS_REFUSED, None, alarm.text_name, **dict(alarm.params)
    )
