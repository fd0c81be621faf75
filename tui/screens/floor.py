"""Floor: a tile per station. Enter opens the focused station's detail."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from tui.screens.base import ConsoleScreen
from tui.widgets import StationTile

__all__ = ["FloorScreen"]


class FloorScreen(ConsoleScreen):
    name_key = "screen.floor"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield Grid(id="tiles")
        yield Static(self.t("station.none"), id="no-stations", markup=False)
        yield from self.compose_footer()

    def show_body(self) -> None:
        grid = self.query_one("#tiles", Grid)
        tiles = {tile.station_id: tile for tile in grid.query(StationTile)}
        if list(tiles) != list(self.model.stations):
            grid.remove_children()
            tiles = {sid: StationTile(self.t, sid) for sid in self.model.stations}
            grid.mount_all(tiles.values())
        stale = self.model.link != "connected"
        for sid, tile in tiles.items():
            tile.show(self.model.stations[sid], stale)
        self.query_one("#no-stations").display = not tiles

    def action_open_station(self) -> None:
        focused = self.focused
        if isinstance(focused, StationTile):
            self.console.open_station(focused.station_id)
        elif self.model.stations:
            self.console.open_station(next(iter(self.model.stations)))
