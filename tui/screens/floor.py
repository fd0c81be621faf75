"""Floor: a tile per station. Enter opens the focused station's detail."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from tui.screens.base import ConsoleScreen
from tui.widgets import StationTile, problem_text

__all__ = ["FloorScreen", "tile_layout"]

_TILE_MIN_WIDTH = 35  # a border and padding (4) and "Gross 124.31 kg  Target 129.70 kg" (31)
_MAX_COLUMNS = 4
_BAR_MAX = 20


def tile_layout(screen_width: int) -> tuple[int, int]:
    """How many tile columns fit a screen this wide, and how long a tile's bar can be (its
    `100 %` after it included), so that nothing a person needs is cut at 80 columns and up."""
    usable = screen_width - 2  # the grid's padding
    columns = max(1, min(_MAX_COLUMNS, (usable + 2) // (_TILE_MIN_WIDTH + 2)))
    tile_width = (usable - 2 * (columns - 1)) // columns  # a gutter of 2 between tiles
    return columns, max(5, min(_BAR_MAX, tile_width - 4 - 6))


class FloorScreen(ConsoleScreen):
    name_key = "screen.floor"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield Grid(id="tiles")
        yield Static(self.t("station.none"), id="no-stations", markup=False)
        yield from self.compose_footer()

    def show_body(self) -> None:
        grid = self.query_one("#tiles", Grid)
        columns, bar_width = tile_layout(self.app.size.width)
        grid.styles.grid_size_columns = columns
        tiles = {tile.station_id: tile for tile in grid.query(StationTile)}
        if list(tiles) != list(self.model.stations):
            grid.remove_children()
            tiles = {sid: StationTile(self.t, sid) for sid in self.model.stations}
            grid.mount_all(tiles.values())
        stale = self.model.link != "connected"
        for sid, tile in tiles.items():
            station = self.model.stations[sid]
            tile.show(station, stale, bar_width, problem_text(self.t, self.model, station))
        self.query_one("#no-stations").display = not tiles

    def action_open_station(self) -> None:
        focused = self.focused
        if isinstance(focused, StationTile):
            self.console.open_station(focused.station_id)
        elif self.model.stations:
            self.console.open_station(next(iter(self.model.stations)))
