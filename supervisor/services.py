"""The floor's services, added under its services supervisor: the platform sync (records up,
registry down), the console server and the registry watch (imports made beside the floor).
They know the floor; the floor does not know them (the layer below), so a service is added here,
before the floor runs."""

from __future__ import annotations

import ssl

from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from supervisor.console.server import ConsoleServer
from supervisor.floor import Floor
from supervisor.registry_watch import RegistrySnapshot, RegistryWatch
from supervisor.runtime import ChildSpec

__all__ = ["add_console", "add_platform_sync", "add_registry_watch"]


def add_platform_sync(floor: Floor, settings: SyncSettings) -> PlatformSync:
    """The platform sync, woken by every write (a new record goes up at once)."""
    sync = PlatformSync(settings, floor.db, floor.state, floor.bus)
    floor.sink.on_written(sync.nudge)
    floor.services.add_child(ChildSpec("platform", sync.run))
    return sync


def add_console(
    floor: Floor,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    ssl_context: ssl.SSLContext | None = None,
    sync: PlatformSync | None = None,
) -> ConsoleServer:
    """The console server (its port is known once the floor runs: `ConsoleServer.port`)."""
    console = ConsoleServer(floor, floor.db, host=host, port=port, ssl_context=ssl_context, sync=sync)
    floor.services.add_child(ChildSpec("console", console.run))
    return console


def add_registry_watch(floor: Floor, start: RegistrySnapshot, period_s: float = 1.0) -> RegistryWatch:
    """The registry watch: imports made while the floor runs decide its scans within `period_s`
    and a read (`start`: the registry the floor's state was built from)."""
    watch = RegistryWatch(floor.db, floor.state, floor.bus.publish, start, period_s=period_s)
    floor.services.add_child(ChildSpec("registry", watch.run))
    return watch
