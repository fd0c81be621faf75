"""The JSON-lines event file of `fillfloor sim` (docs/scenarios.md, "Events").

One object per line, flushed as it happens, each with `ts` (seconds since the run's start, from the
monotonic clock) and `type`. The supervisor's events (`write_event`, in their JSON form from
`domain.events`) and the simulator's ground truth (`write`) share the file, so one writer serialises
them in arrival order; a watcher (a scenario's `wait` for a ground-truth type) sees each line as it
is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from domain.events import FloorEvent, encode

__all__ = ["EventFile", "Tee"]

Tee = Callable[[str, Mapping[str, Any]], None]


def _default(value: object) -> object:
    # Masses travel as Decimal inside the floor; JSON readers want numbers.
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, frozenset | set | tuple):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    return str(value)


class EventFile:
    """Appends events to a file (or any text stream), stamping `ts` against a fixed start."""

    def __init__(self, stream: IO[str], start: float | None = None, tee: Tee | None = None) -> None:
        self._stream = stream
        self._start = time.monotonic() if start is None else start
        self._tee = tee
        self._watchers: list[Tee] = []

    @classmethod
    def open(cls, path: Path, tee: Tee | None = None) -> EventFile:
        """`tee(type, fields)` also sees every event written (the demo's live summary)."""
        return cls(path.open("w", encoding="utf-8"), tee=tee)

    @property
    def start(self) -> float:
        return self._start

    def watch(self, watcher: Tee) -> None:
        """`watcher(type, line)` sees every line written from now until `unwatch`."""
        self._watchers.append(watcher)

    def unwatch(self, watcher: Tee) -> None:
        self._watchers.remove(watcher)

    def write_event(self, event: FloorEvent) -> None:
        fields = encode(event)
        self.write(fields.pop("type"), fields)

    def write(self, event_type: str, fields: Mapping[str, Any] | None = None) -> None:
        obj: dict[str, Any] = {"ts": round(time.monotonic() - self._start, 6), "type": event_type}
        if fields:
            obj.update(fields)
        self._stream.write(json.dumps(obj, ensure_ascii=False, default=_default) + "\n")
        self._stream.flush()
        if self._tee is not None:
            self._tee(event_type, obj)
        for watcher in list(self._watchers):
            watcher(event_type, obj)

    def close(self) -> None:
        self._stream.close()
