"""The floor's services, added under its services supervisor: the platform sync (records up,
registry down), the console server and the registry watch (imports made beside the floor).
They know the floor; the floor does not know them (the layer below), so a service is added here,
before the floor runs."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from platform_client.alarms import key_refused_alarm
from platform_client.bridge import SyncProcess
from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from supervisor.console.admission import Limits, connection_capacity
from supervisor.console.bridge import ConsoleProcess
from supervisor.console.child import ChildSettings
from supervisor.console.in_process import InProcessAccess
from supervisor.console.snapshot import SyncFigures
from supervisor.floor import Floor
from supervisor.journal import Journal, open_event_file
from supervisor.registry_watch import RegistrySnapshot, RegistryWatch
from supervisor.runtime import ChildSpec

__all__ = [
    "add_console",
    "add_journal",
    "add_platform_sync",
    "add_platform_sync_process",
    "add_registry_watch",
]


def add_platform_sync(floor: Floor, settings: SyncSettings) -> PlatformSync:
    """The platform sync in the floor's loop (scenarios and tests), woken by every write (a new
    record goes up at once)."""
    sync = PlatformSync(settings, floor.db, floor.state, floor.bus, alarm=floor.alarms.post,
                        key_refused=key_refused_alarm(floor.alarms.board))  # fmt: skip
    floor.sink.on_written(sync.nudge)
    floor.services.add_child(ChildSpec("platform", sync.run))
    return sync


def add_platform_sync_process(floor: Floor, settings: SyncSettings) -> SyncProcess:
    """The platform sync in a process of its own (`fillfloor serve`): its uploads' JSON and TLS work
    never delays a poll or a decision (platform_client/bridge.py)."""
    url = floor.db.engine.url.render_as_string(hide_password=False)
    sync = SyncProcess(settings, url, floor.state, floor.bus, alarm=floor.alarms.post,
                       key_refused=lambda: key_refused_alarm(floor.alarms.board))  # fmt: skip
    floor.sink.on_written(sync.nudge)
    floor.services.add_child(ChildSpec("platform", sync.run))
    return sync


def add_journal(floor: Floor, out: IO[str], *, json_lines: bool, event_file: Path | None) -> Journal:
    """serve's journal: a line on `out` per state change, alarm, refusal, fill and health change
    (text, or JSON with `json_lines`), and every event in `event_file` when one is given."""
    events = open_event_file(event_file) if event_file is not None else None
    journal = Journal(floor.bus, out, json_lines=json_lines, event_file=events)
    floor.services.add_child(ChildSpec("journal", journal.run))
    return journal


def add_console(
    floor: Floor,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    sync: SyncFigures | None = None,
) -> ConsoleProcess:
    """The console server, in a process of its own (`supervisor.console.bridge`), with the TLS and
    connection caps of the floor's [console] table; its port is known once the floor runs
    (`ConsoleProcess.port`). Its connections are the process's: they can take neither the floor's
    loop nor the descriptors its device links need."""
    settings = floor.config.console
    limits = Limits(
        max_sessions=settings.max_sessions,
        max_sessions_per_user=settings.max_sessions_per_user,
        max_pending=settings.max_pending,
        max_per_address=settings.max_per_address,
        capacity=connection_capacity(settings.max_sessions + settings.max_pending, device_links=0),
    )
    child = ChildSettings(host, port, settings.tls_cert, settings.tls_key, limits,
                          tuple(settings.allowed_origins.split()))  # fmt: skip
    console = ConsoleProcess(InProcessAccess(floor, floor.db, sync), child)
    floor.services.add_child(ChildSpec("console", console.run))
    return console


def add_registry_watch(floor: Floor, start: RegistrySnapshot, period_s: float = 1.0) -> RegistryWatch:
    """The registry watch: imports made while the floor runs decide its scans within `period_s`
    and a read (`start`: the registry the floor's state was built from)."""
    watch = RegistryWatch(floor.db, floor.state, floor.bus.publish, start, period_s=period_s)
    floor.services.add_child(ChildSpec("registry", watch.run))
    return watch
