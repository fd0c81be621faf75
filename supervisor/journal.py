"""What `fillfloor serve` tells its journal: a line on stdout for each state change, alarm, refusal,
fill and actor health change (systemd keeps stdout), as text or as one JSON object a line
(`--log-format json`), and optionally every event of the floor in a JSON-lines file of its own
(`--event-file`, mode 0600): a record of the shift outside the console and the database.

It is an observer like the console: it subscribes to the bus and formats and writes each batch in
a worker thread (the loop only hands the events over; a journal that stalls must not stall it),
and if it falls behind by its bound it says how many events it missed and goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import trio

from domain.events import (
    ActorHealthChanged,
    AlarmCleared,
    AlarmRaised,
    CheckRefused,
    FillAborted,
    FillCompleted,
    FloorEvent,
    InterlockRefused,
    StationState,
    encode,
)
from domain.labels import safe_text
from supervisor.runtime.bus import EventBus, SubscriberLagged, Subscription

__all__ = ["Journal", "open_event_file"]

_LOGGED = (StationState, AlarmRaised, AlarmCleared, InterlockRefused, CheckRefused, FillCompleted,
           FillAborted, ActorHealthChanged)  # fmt: skip
_BATCH = 500
_CAPACITY = 20_000


def open_event_file(path: Path) -> IO[str]:
    """The event file, appended to, created 0600 (it holds the shift's records)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8")


def _level(event: FloorEvent) -> str:
    match event:
        case AlarmRaised(severity=severity):
            return "error" if severity in ("critical", "high") else "warning"
        case FillAborted():
            return "warning"
        case ActorHealthChanged(state=state):
            return "error" if state == "failed" else "warning" if state == "restarting" else "info"
    return "info"


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, frozenset | set | tuple):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    if isinstance(value, str):
        return safe_text(value)  # device and user text: never a terminal's control sequence
    return value


class Journal:
    def __init__(self, bus: EventBus, out: IO[str], *, json_lines: bool = False,
                 event_file: IO[str] | None = None) -> None:  # fmt: skip
        self._bus = bus
        self._out = out
        self._json = json_lines
        self._event_file = event_file

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sub = self._subscribe()
        task_status.started()
        while True:
            try:
                batch = [await sub.receive()]
            except SubscriberLagged:
                sub = self._subscribe()
                note = {"event": "journal.behind", "missed": _CAPACITY}
                await trio.to_thread.run_sync(self._write, [self._format(_now(), "warning", note)], [])
                continue
            while len(batch) < _BATCH and (more := sub.receive_nowait_or_none()) is not None:
                batch.append(more)
            await trio.to_thread.run_sync(self._write_batch, [e.payload for e in batch])

    def _write_batch(self, payloads: list[FloorEvent]) -> None:
        """In the worker thread: the lines made and written there, not on the floor's loop."""
        now = _now()
        lines = [self._line(now, p) for p in payloads if isinstance(p, _LOGGED)]
        events = [self._event_line(now, p) for p in payloads] if self._event_file else []
        self._write(lines, events)

    def _subscribe(self) -> Subscription:
        return self._bus.subscribe("journal", capacity=_CAPACITY)

    def _line(self, now: str, event: FloorEvent) -> str:
        fields = encode(event)
        return self._format(now, _level(event), {"event": fields.pop("type"), **fields})

    def _format(self, now: str, level: str, fields: Mapping[str, Any]) -> str:
        plain = {k: _plain(v) for k, v in fields.items() if v is not None}
        if self._json:
            return json.dumps({"time": now, "level": level, **plain}, ensure_ascii=False, default=str) + "\n"
        event, station = plain.pop("event", "?"), plain.pop("station", "-")
        rest = " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in plain.items())
        return f"{now} {level.upper()} {station} {event} {rest}".rstrip() + "\n"

    def _event_line(self, now: str, event: FloorEvent) -> str:
        fields = {k: _plain(v) for k, v in encode(event).items()}
        return json.dumps({"time": now, **fields}, ensure_ascii=False, default=str) + "\n"

    def _write(self, lines: list[str], events: list[str]) -> None:
        if lines:
            self._out.write("".join(lines))
            self._out.flush()
        if events and self._event_file is not None:
            self._event_file.write("".join(events))
            self._event_file.flush()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
