"""The platform sync in a process of its own: `python -m platform_client.process`, started by the
floor (`platform_client.bridge.SyncProcess`) with one pipe (supervisor/runtime/pipe.py's lines).

An upload of 500 records is JSON and TLS work of tens of milliseconds; in the floor's own loop it
delays polls and decisions (issue 19). Here it costs the floor one line per batch.

floor -> sync process                       sync process -> floor
  (first) {"settings": …, "db": URL}          V <tab> EVENT-JSON   a sync event (sync.batch, …)
  N                 records to upload         L <tab> NOTICE-JSON  an alarm raised or cleared (a refused key)
                                              D <tab> STATION <tab> 0|1   a station (dis)abled
                                              F <tab> FIGURES-JSON  what the console shows

The process writes the registry's changes to the database itself (with their cursor, as in the
floor); the floor's registry watch (supervisor/registry_watch.py) brings the archives and operators
into the running floor as it does an import's. Only a regulator's station disable, which the
database keeps apart from the registry, is told over the pipe. It ends when the floor closes its
pipe.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Any

import attrs
import trio

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import AlarmChange, AlarmNotice
from domain.archive import CylinderArchive, Operator
from domain.events import encode
from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from supervisor.config import PlatformConfig
from supervisor.runtime import EventBus
from supervisor.runtime.pipe import LineWriter, run_service_process, stdio_pipe
from supervisor.storage import open_database

__all__ = ["main", "notice_from_json", "notice_to_json", "settings_line"]

_FIGURES_EVERY_S = 1.0


def settings_line(settings: SyncSettings, db_url: str, key_refused: AlarmNotice | None = None) -> str:
    """The first line the floor sends: the settings (the key with them: never on a command line)."""
    raw = {"platform": attrs.asdict(settings.platform), "unit_code": settings.unit_code, "key": settings.key,
           "timeout_s": settings.timeout_s, "registry_page": settings.registry_page}  # fmt: skip
    refused = None if key_refused is None else notice_to_json(key_refused)
    return json.dumps({"settings": raw, "db": db_url, "key_refused": refused}) + "\n"


def _settings(raw: dict[str, Any]) -> SyncSettings:
    return SyncSettings(PlatformConfig(**raw["platform"]), raw["unit_code"], raw["key"],
                        timeout_s=raw["timeout_s"], registry_page=raw["registry_page"])  # fmt: skip


class _ToFloor:
    """What the sync would do to the floor's state, said to the floor instead (`FloorState`'s
    three registry methods); lines wait here for the writer, never blocking the sync."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()
        self.wake = trio.Event()

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.wake.set()

    def put_archive(self, archive: CylinderArchive) -> None:
        """Stored already, with the registry's change count: the floor's watch reloads it."""

    def put_operator(self, operator: Operator) -> None:
        """Stored already, with the registry's change count: the floor's watch reloads it."""

    def set_disabled(self, station: str | None, disabled: bool) -> None:
        self.say(f"D\t{station or ''}\t{int(disabled)}\n")

    def alarm(self, notice: AlarmNotice) -> None:
        self.say("L\t" + json.dumps(notice_to_json(notice), ensure_ascii=False) + "\n")


def notice_to_json(notice: AlarmNotice) -> dict[str, Any]:
    return {"change": notice.change.value, "alarm_id": notice.alarm_id, "kind": notice.kind.value,
            "station": notice.station, "params": dict(notice.params), "text": notice.text}  # fmt: skip


def notice_from_json(raw: dict[str, Any]) -> AlarmNotice:
    """(Raises ValueError/KeyError/TypeError for what is not a notice.)"""
    return AlarmNotice(AlarmChange(raw["change"]), str(raw["alarm_id"]), AlarmKind(raw["kind"]),
                       raw.get("station"), {str(k): str(v) for k, v in raw.get("params", {}).items()},
                       raw.get("text"))  # fmt: skip


async def _serve() -> None:
    reader, writer = stdio_pipe()
    first = json.loads(await reader.line())
    settings = _settings(first["settings"])
    db = await trio.to_thread.run_sync(open_database, first["db"])
    to_floor, bus = _ToFloor(), EventBus()
    refused = first.get("key_refused")
    sync = PlatformSync(settings, db, to_floor, bus, alarm=to_floor.alarm,  # type: ignore[arg-type]
                        key_refused=None if refused is None else notice_from_json(refused))  # fmt: skip
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_events, bus, to_floor)
            nursery.start_soon(_write, to_floor, writer)
            nursery.start_soon(_figures, sync, to_floor)
            await nursery.start(sync.run)
            while True:  # the floor's nudges, until it closes the pipe
                if await reader.line() == "N":
                    sync.nudge()
    finally:
        db.close()


async def _events(bus: EventBus, to_floor: _ToFloor) -> None:
    async for event in bus.subscribe("to-floor", coalesce=False, capacity=100_000):
        to_floor.say("V\t" + json.dumps(encode(event.payload), ensure_ascii=False) + "\n")


async def _figures(sync: PlatformSync, to_floor: _ToFloor) -> None:
    while True:
        to_floor.say("F\t" + json.dumps(sync.figures(), ensure_ascii=False, default=str) + "\n")
        await trio.sleep(_FIGURES_EVERY_S)


async def _write(to_floor: _ToFloor, writer: LineWriter) -> None:
    while True:
        await to_floor.wake.wait()
        to_floor.wake = trio.Event()
        lines = "".join(to_floor.lines)
        to_floor.lines.clear()
        await writer.send(lines)


def main() -> int:
    return run_service_process(_serve, "platform sync")


if __name__ == "__main__":
    sys.exit(main())
