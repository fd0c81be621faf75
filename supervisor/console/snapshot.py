"""What a console sees first: the whole floor now, and the shift so far.

`FloorFigures` follows the floor's events (fills, refusals, checks) to keep the shift figures and
each station's recent history, so a console that connects mid-shift sees the same figures as one
that watched from the start. `snapshot()` puts it together with what every station has published
of itself (`supervisor.station.status`), the alarm list and the actor tree.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any, Protocol

from domain.events import (
    CheckRecorded,
    FillAborted,
    FillCompleted,
    FloorEvent,
    InterlockRefused,
    encode,
)
from supervisor.floor import Floor
from supervisor.runtime.supervisor import ChildView
from supervisor.station.alarms import AlarmBoard

__all__ = ["FloorFigures", "snapshot", "wall_clock"]

_RECENT = 10


class FloorFigures:
    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.fills = 0
        self.aborted = 0
        self.refusals: Counter[str] = Counter()  # by reason code
        self.abs_error_g = 0
        self.overfills = 0
        self.underfills = 0
        self.recent_fills: dict[str, deque[dict[str, Any]]] = {}
        self.recent_refusals: dict[str, deque[dict[str, Any]]] = {}
        self.recent_checks: dict[str, deque[dict[str, Any]]] = {}

    def on_event(self, event: FloorEvent, now: float) -> None:
        item = encode(event) | {"at": now}  # (its type too: a console tells an aborted fill by it)
        match event:
            case FillCompleted():
                self.fills += 1
                self.abs_error_g += abs(event.error_g or 0)
                self.overfills += "overfill" in event.flags
                self.underfills += "underfill" in event.flags
                self._keep(self.recent_fills, event.station, item)
            case FillAborted():
                self.aborted += 1
                self._keep(self.recent_fills, event.station, item)
            case InterlockRefused():
                self.refusals.update(event.reasons)
                self._keep(self.recent_refusals, event.station, item)
            case CheckRecorded():
                self._keep(self.recent_checks, event.station, item)

    @staticmethod
    def _keep(where: dict[str, deque[dict[str, Any]]], station: str, item: dict[str, Any]) -> None:
        where.setdefault(station, deque(maxlen=_RECENT)).appendleft(item)

    def shift(self, now: float) -> dict[str, Any]:
        hours = max(now - self.started_at, 1.0) / 3600
        return {
            "fills": self.fills,
            "aborted": self.aborted,
            "refusals": sum(self.refusals.values()),
            "refusals_by_reason": dict(self.refusals.most_common()),
            "mean_abs_error_g": round(self.abs_error_g / self.fills, 1) if self.fills else None,
            "overfills": self.overfills,
            "underfills": self.underfills,
            "fills_per_hour": round(self.fills / hours, 1),
        }


def wall_clock(at: float, now: float) -> float:
    """A time of the floor's (trio) clock as seconds since the epoch, for people's screens."""
    return round(time.time() - (now - at), 3)


def _stamped(items: Iterable[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    return [{**item, "at": wall_clock(item["at"], now)} for item in items]


class SyncFigures(Protocol):
    """The platform sync's figures, as the console shows them (`platform_client.sync.PlatformSync`)."""

    def figures(self) -> dict[str, Any]: ...


def snapshot(
    floor: Floor, alarms: AlarmBoard, figures: FloorFigures, now: float, sync: SyncFigures | None = None
) -> dict[str, Any]:
    """The floor now; times (`at`, `raised_at`) are seconds since the epoch."""
    stations = []
    for sid, parts in floor.stations.items():
        status = parts.coordinator.status  # as the station published it (never the core's fields)
        operator = floor.state.operators.get(status.operator) if status.operator else None
        stations.append({
            "id": sid,
            "state": status.state,
            "cylinder": status.cylinder,
            "operator": status.operator,
            "operator_name": operator.name if operator else None,
            "gross_kg": status.gross_kg,
            "stable": status.stable,
            "target_kg": status.target_kg,
            "tare_kg": status.tare_kg,
            "preact_kg": status.preact_kg,
            "cutoff": parts.config.cutoff,
            "faults": list(status.faults),
            "recent_fills": _stamped(figures.recent_fills.get(sid, ()), now),
            "recent_refusals": _stamped(figures.recent_refusals.get(sid, ()), now),
            "recent_checks": _stamped(figures.recent_checks.get(sid, ()), now),
        })  # fmt: skip
    actors: list[dict[str, Any]] = []

    def walk(views: tuple[ChildView, ...], depth: int) -> None:
        for v in views:
            health = {k: value for k, value in encode(v.health.event()).items() if k != "type"}
            actors.append({**health, "depth": depth})
            walk(v.children, depth + 1)

    walk(floor.maintenance.tree(), 0)
    return {
        "stations": stations,
        "alarms": [
            {
                "alarm_id": a.alarm_id,
                "kind": a.kind,
                "severity": a.severity,
                "message": a.message,
                # its kind's text and parameters: a console says it in its own language
                "text": a.text_name,
                "params": dict(a.params),
                "station": a.station,
                "state": str(a.state),
                "raised_at": wall_clock(a.raised_at, now),
            }
            for a in alarms.current()
        ],
        "unacknowledged": alarms.unacknowledged(),
        "actors": actors,
        "shift": figures.shift(now),
        "sync": sync.figures() if sync is not None else None,
        "records_backlog": floor.sink.backlog,
        "storage_healthy": floor.sink.healthy,
    }
