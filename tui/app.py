"""The Textual console (`fillfloor console`): six screens over one `ConsoleModel`.

F1 Floor · F2 Alarms · F3 Station · F4 Maintenance · F5 Checks · F6 Shift · q quit. The
connection (trio, by guest mode) keeps the model current; a 10 Hz timer redraws the visible screen
when the model changed. Without a connection (tests, `--snapshot`) the app shows the model as given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding

from tui.connection import ConsoleConnection, local_reply
from tui.guest import TrioGuest
from tui.i18n import Texts, plain
from tui.model import ConsoleModel
from tui.screens.alarms import AlarmsScreen
from tui.screens.base import ConsoleScreen
from tui.screens.checker import CheckerScreen
from tui.screens.floor import FloorScreen
from tui.screens.maintenance import MaintenanceScreen
from tui.screens.shift import ShiftScreen
from tui.screens.station import StationScreen

__all__ = ["ConsoleApp"]

_SCREENS: tuple[tuple[str, str, type[ConsoleScreen], tuple[tuple[str, str, str], ...]], ...] = (
    ("f1", "floor", FloorScreen, (("enter", "open_station", "screen.station"),)),
    ("f2", "alarms", AlarmsScreen, (("a", "ack", "key.ack"), ("s", "shelve", "key.shelve"))),
    ("f3", "station", StationScreen, (
        ("right,]", "next_station", "key.next_station"), ("left,[", "prev_station", "key.prev_station"),
        ("p", "pause", "key.pause"), ("r", "resume", "key.resume"))),
    ("f4", "maintenance", MaintenanceScreen, (
        ("r", "restart", "key.restart"), ("o", "out_of_service", "key.out_of_service"),
        ("i", "return_to_service", "key.return_to_service"))),
    ("f5", "checker", CheckerScreen, (("ctrl+s", "submit", "key.submit"),)),
    ("f6", "shift", ShiftScreen, ()),
)  # fmt: skip


class ConsoleApp(App[None]):
    CSS_PATH = Path(__file__).with_name("console.tcss")
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("ctrl+q", "quit", show=False, priority=True)
    ]

    def __init__(
        self, model: ConsoleModel, texts: Texts, connection: ConsoleConnection | None = None
    ) -> None:
        super().__init__()
        self.model = model
        self.t = texts
        self.connection = connection
        self.guest = TrioGuest(connection.run) if connection is not None else None
        self._shown_version = -1
        self.title = texts("title")
        self.bind("q", "quit", description=texts("key.quit"))
        for key, name, _cls, _keys in _SCREENS:
            self.bind(key, f"show('{name}')", description=texts(f"screen.{name}"))

    def on_mount(self) -> None:
        for _key, name, cls, keys in _SCREENS:
            self.install_screen(cls(self.t, self.model, keys), name)
        self.push_screen("floor")
        if self.guest is not None:
            self.guest.start()
        self.set_interval(0.1, self._redraw_if_changed)

    def _redraw_if_changed(self) -> None:
        if self.guest is not None and self.guest.error is not None:
            error, self.guest.error = self.guest.error, None
            # In the console's words; the exception (its class and text) only as the detail line.
            detail = plain(f"{self.t('link.detail')}: {type(error).__name__}: {error}")
            self.notify(f"{self.t('console.crashed')}\n{detail}", severity="error", timeout=30, markup=False)
        if self.model.version != self._shown_version and isinstance(self.screen, ConsoleScreen):
            self._shown_version = self.model.version
            self.screen.show()

    def action_show(self, name: str) -> None:
        self.switch_screen(name)

    def open_station(self, station_id: str) -> None:
        screen = self.get_screen("station")
        assert isinstance(screen, StationScreen)
        screen.station_id = station_id
        self.switch_screen("station")

    async def action_quit(self) -> None:
        if self.guest is not None:
            await self.guest.stop()
        self.exit()

    def send(self, command: str, args: dict[str, object],
             on_reply: Callable[[bool, str], None] | None = None) -> None:  # fmt: skip
        """Send a console command; the reply is shown (and handed to `on_reply`)."""

        async def wait_for_reply() -> None:
            if self.connection is None:
                reply = local_reply(0, "console.offline")
            else:
                reply = await self.connection.request(command, args)
            # An older floor's reply has no code: its own words, then.
            message = self.t.said(reply.code, reply.params) if reply.code else plain(reply.message)
            self.notify(self.t("reply.ok" if reply.ok else "reply.refused", message=message),
                        severity="information" if reply.ok else "warning", markup=False)  # fmt: skip
            if on_reply is not None:
                on_reply(reply.ok, message)

        self.run_worker(wait_for_reply(), group="commands")
