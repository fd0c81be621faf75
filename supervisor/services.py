"""The floor's services, added under its services supervisor: the platform sync (records up,
registry down) and the console server. They know the floor; the floor does not know them (the
layer below), so a service is added here, before the floor runs."""

from __future__ import annotations

import ssl

from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from supervisor.console.admission import Limits, connection_capacity
from supervisor.console.in_process import InProcessAccess
from supervisor.console.server import ConsoleServer
from supervisor.floor import Floor
from supervisor.runtime import ChildSpec

__all__ = ["add_console", "add_platform_sync"]


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
    """The console server (its port is known once the floor runs: `ConsoleServer.port`), with the
    connection caps of the floor's [console] table; its connections never take the descriptors the
    floor's device links need (three per station)."""
    settings = floor.config.console
    wanted = settings.max_sessions + settings.max_pending
    limits = Limits(
        max_sessions=settings.max_sessions,
        max_sessions_per_user=settings.max_sessions_per_user,
        max_pending=settings.max_pending,
        max_per_address=settings.max_per_address,
        capacity=connection_capacity(wanted, device_links=3 * len(floor.config.stations)),
    )
    origins = frozenset(settings.allowed_origins.split())
    console = ConsoleServer(InProcessAccess(floor, floor.db, sync), host=host, port=port,
                            ssl_context=ssl_context, limits=limits, allowed_origins=origins)  # fmt: skip
    floor.services.add_child(ChildSpec("console", console.run))
    return console
