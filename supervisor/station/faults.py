"""A station's faults and alarms: lost and silent devices, a valve that does not follow its order,
storage health, and raising and clearing alarms (through the floor's alarm desk).
"""

from __future__ import annotations

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import AlarmNotice, cleared, raised
from domain.labels import safe_text
from domain.messages import Device, DeviceLink, StorageHealth, ValveStatus
from domain.reasons import Reason
from supervisor.station.core_base import StationBase
from supervisor.station.station_state import Phase


class Faults(StationBase):
    def _on_valve(self, v: ValveStatus) -> None:
        self.valve = v
        self._clear_fault("valve_lost")  # (a reading: the valve is there, however it was lost)
        if self.course.phase == Phase.FILLING and self.lifecycle.fill is not None:
            self.lifecycle.fill.on_valve(v)  # the position switch tells the fill guard when gas may flow
        # The position switch must follow the order within the feedback timeout. In indicator mode
        # the valve opens only while the indicator's output is on as well, so "open ordered, still
        # closed" is judged only once the indicator reports it is filling (until then a slow start
        # is the no-flow check's to catch), and the cut-off itself is seen on the scale first.
        fill = self.lifecycle.fill
        armed = self.course.phase == Phase.FILLING and (self.ctx.cutoff == "host" or fill is None
                                                        or fill.indicator_started)  # fmt: skip
        disagrees = v.feedback_open != self.lifecycle.permit and (self.lifecycle.permit is False or armed)
        if not disagrees:
            self.lifecycle.mismatch_since = None
            if not v.feedback_open:
                self._clear_fault("stuck_open")
            return
        if self.lifecycle.mismatch_since is None:
            self.lifecycle.mismatch_since = v.at
        if v.at - self.lifecycle.mismatch_since < self.ctx.fill.feedback_timeout_s:
            return
        if self.lifecycle.permit:
            self._close(Reason.VALVE_FEEDBACK_MISMATCH)
        elif "stuck_open" not in self.fault_state.faults:
            self._raise_fault("stuck_open", AlarmKind.VALVE_STUCK_OPEN)

    def _on_link(self, msg: DeviceLink) -> None:
        cause = f"{msg.device}_lost"
        if msg.device == Device.SCANNER:  # no new scans, but a fill under way goes on
            if msg.up != self.fault_state.scanner_lost:
                return
            self.fault_state.scanner_lost = not msg.up
            alarm_id, kind = f"{self.ctx.station}.scanner_lost", AlarmKind.DEVICE_SCANNER_LOST
            if msg.up:
                self._alarm(cleared(alarm_id, kind, self.ctx.station))
            else:
                self._alarm(raised(alarm_id, kind, self.ctx.station, detail=safe_text(msg.detail)))
            return
        if msg.up:
            self._clear_fault(cause)
            return
        if self.course.phase == Phase.FILLING:
            self._close(Reason.DEVICE_SCALE_LOST if msg.device == Device.SCALE else Reason.DEVICE_VALVE_LOST)
        kind = AlarmKind.DEVICE_SCALE_LOST if msg.device == Device.SCALE else AlarmKind.DEVICE_VALVE_LOST
        self._raise_fault(cause, kind, detail=safe_text(msg.detail))

    def _on_storage(self, msg: StorageHealth) -> None:
        was, self.fault_state.storage_ok = self.fault_state.storage_ok, msg.ok
        alarm_id, kind = f"{self.ctx.station}.storage", AlarmKind.STORAGE_UNAVAILABLE
        if was and not msg.ok:
            self._alarm(raised(alarm_id, kind, self.ctx.station, detail=safe_text(msg.detail)))
        elif msg.ok and not was:
            self._alarm(cleared(alarm_id, kind, self.ctx.station))

    def _alarm(self, notice: AlarmNotice) -> None:
        self._out.append(notice)  # stored and published by the floor's alarm desk

    def _raise_fault(self, cause: str, kind: AlarmKind, text: str | None = None, **params: str) -> None:
        if cause in self.fault_state.faults:
            return
        alarm_id = f"{self.ctx.station}.{cause}"
        self.fault_state.faults[cause] = alarm_id
        alarm = raised(alarm_id, kind, self.ctx.station, text, **params)
        self.fault_state.fault_alarms[cause] = alarm
        self._alarm(alarm)

    def _clear_fault(self, cause: str) -> None:
        alarm_id = self.fault_state.faults.pop(cause, None)
        alarm = self.fault_state.fault_alarms.pop(cause, None)
        if alarm_id is not None and alarm is not None:
            self._alarm(alarm.cleared())
