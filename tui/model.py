"""What the console knows of the floor: built from the server's snapshot, kept current by its events.

Pure (no I/O, no widgets): the connection feeds it the server's messages, decoded by the console
protocol (events as the classes of `domain.events`), the screens read it. A snapshot is read
leniently, a field it cannot make sense of ignored, never raised on: the floor's text is data, and
a newer floor may send fields this console does not know. A fresh snapshot replaces everything, so whatever
a console missed (a reconnect, an alarm unshelved on the floor) is set right by the next one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import define, evolve, field, frozen

from domain.events import (
    ActorHealthChanged,
    AlarmAcknowledged,
    AlarmCleared,
    AlarmRaised,
    AlarmShelved,
    CheckRecorded,
    FillAborted,
    FillCompleted,
    FloorEvent,
    InterlockRefused,
    OperatorLogin,
    OperatorLogout,
    StationState,
    StationWeight,
    SyncBatch,
    encode,
)
from supervisor.console.protocol import Event, Reply, ServerMessage, Snapshot, Welcome

__all__ = ["ALARM_PROBLEM", "AlarmView", "ConsoleModel", "StationView"]

_RECENT = 10
ALARM_PROBLEM = "alarm:"  # a station's last problem that is an alarm: this, then the alarm's id
_ACTIVE_ALARM_STATES = ("unacknowledged", "cleared_unacknowledged")


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _listed(event: FloorEvent, ts: float | None) -> dict[str, Any]:
    """An event as the snapshot lists it: its JSON form, and when."""
    return {**encode(event), "at": ts}


def dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


@define
class StationView:
    id: str
    state: str = "idle"
    cylinder: str | None = None
    operator: str | None = None
    operator_name: str | None = None
    gross_kg: float | None = None
    stable: bool | None = None
    target_kg: float | None = None
    tare_kg: float | None = None
    preact_kg: float | None = None
    cutoff: str | None = None
    faults: list[str] = field(factory=list)
    # A reason code, or `alarm:` and an alarm's id (worded from the alarm, in the console's
    # language), until the next fill starts.
    last_problem: str | None = None
    recent_fills: deque[dict[str, Any]] = field(factory=lambda: deque(maxlen=_RECENT))
    recent_refusals: deque[dict[str, Any]] = field(factory=lambda: deque(maxlen=_RECENT))
    recent_checks: deque[dict[str, Any]] = field(factory=lambda: deque(maxlen=_RECENT))

    @classmethod
    def from_snapshot(cls, s: Mapping[str, Any]) -> StationView:
        view = cls(str(s.get("id", "?")))
        view.state = _text(s.get("state")) or "idle"
        view.cylinder = _text(s.get("cylinder"))
        view.operator = _text(s.get("operator"))
        view.operator_name = _text(s.get("operator_name"))
        view.gross_kg = _float(s.get("gross_kg"))
        view.stable = s.get("stable") if isinstance(s.get("stable"), bool) else None
        view.target_kg = _float(s.get("target_kg"))
        view.tare_kg = _float(s.get("tare_kg"))
        view.preact_kg = _float(s.get("preact_kg"))
        view.cutoff = _text(s.get("cutoff"))
        view.faults = [str(f) for f in s.get("faults") or [] if isinstance(f, str)]
        view.recent_fills.extend(dicts(s.get("recent_fills")))
        view.recent_refusals.extend(dicts(s.get("recent_refusals")))
        view.recent_checks.extend(dicts(s.get("recent_checks")))
        if view.recent_refusals and view.state == "rejected":
            reasons = view.recent_refusals[0].get("reasons") or []
            view.last_problem = str(reasons[0]) if reasons else None
        return view


@frozen
class AlarmView:
    alarm_id: str
    kind: str
    severity: str
    message: str
    station: str | None
    state: str
    raised_at: float | None
    params: Mapping[str, Any] | None = None  # the text's parameters, when the floor sends them
    text_name: str | None = None  # which of its kind's texts (with `params`: words in our language)

    @property
    def needs_action(self) -> bool:
        return self.state in _ACTIVE_ALARM_STATES


@define
class ConsoleModel:
    link: str = "connecting"  # connecting | connected | disconnected | refused
    link_why: str = ""  # why the link is down: a catalogue code (auth.*, a bye's) or a `link.why.*` text
    link_why_params: Mapping[str, Any] = field(factory=dict)
    link_detail: str = ""  # the technical detail (a socket error, a server's words), never the main text
    user: str | None = None
    role: str | None = None
    user_station: str | None = None
    stations: dict[str, StationView] = field(factory=dict)
    alarms: dict[str, AlarmView] = field(factory=dict)
    actors: list[dict[str, Any]] = field(factory=list)
    shift: dict[str, Any] = field(factory=dict)
    sync: dict[str, Any] | None = None
    records_backlog: int = 0
    storage_healthy: bool = True
    version: int = 0  # counts changes, so screens redraw only when something changed

    # ------------------------------------------------------------------ derived
    @property
    def unacknowledged(self) -> int:
        return sum(a.needs_action for a in self.alarms.values())

    def alarms_in_order(self) -> list[AlarmView]:
        """Unacknowledged first, then by severity, newest first within each."""
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        return sorted(
            self.alarms.values(),
            key=lambda a: (
                not a.needs_action,
                a.state == "shelved",
                rank.get(a.severity, 4),
                -(a.raised_at or 0),
            ),
        )

    # ------------------------------------------------------------------ from the server
    def receive(self, message: ServerMessage) -> None:
        match message:
            case Welcome(user, role, station):
                self.user, self.role, self.user_station = user, role, station
            case Snapshot(snap) | Reply(snapshot=snap) if snap is not None:
                self.apply_snapshot(snap)
            case Event(at, event, words):
                self.apply_event(event, at)
                if words is not None and isinstance(event, AlarmRaised):
                    alarm = self.alarms.get(event.alarm_id)
                    if alarm is not None:
                        self.alarms[event.alarm_id] = evolve(alarm, params=words.params, text_name=words.text)
            case _:
                return
        self.version += 1

    def apply_snapshot(self, snap: Mapping[str, Any]) -> None:
        self.stations = {
            view.id: view for view in (StationView.from_snapshot(s) for s in dicts(snap.get("stations")))
        }
        self.alarms = {}
        for a in dicts(snap.get("alarms")):
            self._set_alarm(a, _text(a.get("state")) or "unacknowledged", _float(a.get("raised_at")))
        self.actors = dicts(snap.get("actors"))
        shift = snap.get("shift")
        self.shift = shift if isinstance(shift, dict) else {}
        sync = snap.get("sync")
        self.sync = sync if isinstance(sync, dict) else None
        backlog = snap.get("records_backlog")
        self.records_backlog = backlog if isinstance(backlog, int) else 0
        self.storage_healthy = snap.get("storage_healthy") is not False

    def apply_event(self, e: FloorEvent, ts: float | None = None) -> None:
        """One floor event; `ts` is when it happened (seconds since the epoch)."""
        station_id = getattr(e, "station", None)
        station = self.stations.get(station_id) if isinstance(station_id, str) else None
        match e:
            case AlarmRaised():
                self._set_alarm(_listed(e, ts), "unacknowledged", ts)
                if station is not None:
                    station.last_problem = f"{ALARM_PROBLEM}{e.alarm_id}"
                self._device_link(e.kind, e.station, "lost")
            case AlarmCleared(alarm_id):
                self._alarm_moved(alarm_id, "cleared")
                self._device_link(e.kind, e.station, "up")
            case AlarmAcknowledged(alarm_id):
                self._alarm_moved(alarm_id, "acknowledged")
            case AlarmShelved(alarm_id):
                self._alarm_moved(alarm_id, "shelved")
            case ActorHealthChanged():
                self._actor_health(_listed(e, ts))
            case SyncBatch() if self.sync is not None:
                # Live figures between snapshots (the dead-letter list comes with the next snapshot).
                self.sync.update(
                    backlog=e.backlog, dead_letters=e.dead_letters, status=e.status, detail=e.detail
                )
                if e.last_success is not None:
                    self.sync["last_success"] = e.last_success
        if station is None:
            return
        match e:
            case StationWeight():
                station.gross_kg = float(e.gross_kg)
                station.stable = e.stable
                station.target_kg = None if e.target_kg is None else float(e.target_kg)
                station.tare_kg = None if e.tare_kg is None else float(e.tare_kg)
            case StationState():
                station.state = e.state
                if e.cylinder is not None or e.state == "idle":
                    station.cylinder = e.cylinder
                if e.state == "filling":
                    station.last_problem = None
            case OperatorLogin():
                station.operator, station.operator_name = e.operator, None  # the next snapshot has the name
            case OperatorLogout():
                station.operator, station.operator_name = None, None
            case FillCompleted():
                station.recent_fills.appendleft(_listed(e, ts))
            case FillAborted():
                station.recent_fills.appendleft(_listed(e, ts))
                station.last_problem = e.reason
            case InterlockRefused():
                station.recent_refusals.appendleft(_listed(e, ts))
                station.last_problem = e.reasons[0] if e.reasons else None
            case CheckRecorded():
                station.recent_checks.appendleft(_listed(e, ts))

    def _set_alarm(self, a: Mapping[str, Any], state: str, raised_at: float | None) -> None:
        alarm_id = _text(a.get("alarm_id"))
        if alarm_id is None:
            return
        params = a.get("params")
        self.alarms[alarm_id] = AlarmView(
            alarm_id, str(a.get("kind", "")), str(a.get("severity", "")), str(a.get("message", "")),
            _text(a.get("station")), state, raised_at, params if isinstance(params, Mapping) else None,
            _text(a.get("text")),
        )  # fmt: skip

    def _alarm_moved(self, alarm_id: str, what: str) -> None:
        """ISA-18.2 as the floor's alarm board applies it (supervisor/station/alarms.py)."""
        alarm = self.alarms.get(alarm_id)
        if alarm is None:
            return
        if what == "shelved":
            new_state = "shelved"
        elif what == "acknowledged":
            new_state = "" if alarm.state == "cleared_unacknowledged" else "acknowledged"
        else:  # cleared
            new_state = "cleared_unacknowledged" if alarm.state == "unacknowledged" else ""
        if new_state:
            self.alarms[alarm_id] = attrs.evolve(alarm, state=new_state)
        else:
            del self.alarms[alarm_id]

    def _device_link(self, kind: str, station: str | None, link: str) -> None:
        """A device's lost alarm moves its actor's link on F4 between snapshots (device.scale_lost
        of S1: the actor S1.scale)."""
        device = kind.removeprefix("device.").removesuffix("_lost")
        if station is None or not kind.startswith("device.") or not kind.endswith("_lost"):
            return
        for i, actor in enumerate(self.actors):
            if actor.get("actor") == f"{station}.{device}" and actor.get("state") == "running":
                self.actors[i] = {**actor, "link": link}

    def _actor_health(self, e: Mapping[str, Any]) -> None:
        name = _text(e.get("actor"))
        if name is None:
            return
        # (a health event says nothing of the link: the snapshot and the lost alarms do)
        fields = {k: v for k, v in e.items() if k not in ("type", "at") and not (k == "link" and v is None)}
        for i, actor in enumerate(self.actors):
            if actor.get("actor") == name:
                self.actors[i] = {**actor, **fields}  # an error stays shown as the last one
                return
        self.actors.append({**fields, "depth": name.count(".") + 1})
