"""Maintenance: the actor tree with health, restarts and last error; restart an actor or a station
(after a confirmation), take a station out of service and back."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from tui.screens.base import ConsoleScreen, cell, table
from tui.screens.confirm import Confirm

__all__ = ["MaintenanceScreen"]

_HEALTH_STYLE = {"restarting": "bold", "failed": "bold reverse", "stopped": "dim"}
# A device that never answered, or stopped answering, while its actor runs (a wrong address, a
# cable): F4's "running" alone would hide it.
_LINK_STYLE = {"lost": "bold reverse", "connecting": "bold"}


class MaintenanceScreen(ConsoleScreen):
    name_key = "screen.maintenance"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield table(
            self.t,
            "actors",
            "col.actor",
            "col.health",
            "col.link",
            "col.restarts",
            "col.last_error",
            cursor=True,
        )
        yield from self.compose_footer()

    def show_body(self) -> None:
        rows = self.query_one(DataTable)
        selected = self.selected_actor()
        rows.clear()
        for actor in self.model.actors:
            name = str(actor.get("actor", "?"))
            depth = actor.get("depth")
            depth = depth if isinstance(depth, int) else 0
            state = str(actor.get("state", ""))
            link = actor.get("link")
            link_words = self.t.word(f"link.{link}") if isinstance(link, str) else ""
            rows.add_row(
                cell("  " * depth + name),
                cell(self.t.word(state), _HEALTH_STYLE.get(state, "")),
                cell(link_words, _LINK_STYLE.get(str(link), "")),
                cell(actor.get("restarts", 0)),
                cell(actor.get("error", "")),
                key=name,
            )
        if selected is not None and selected in {str(a.get("actor")) for a in self.model.actors}:
            rows.move_cursor(row=rows.get_row_index(selected))

    def selected_actor(self) -> str | None:
        rows = self.query_one(DataTable)
        if rows.row_count == 0:
            return None
        try:
            return rows.coordinate_to_cell_key(rows.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # (the table was just redrawn)
            return None

    def _station_of(self, actor: str | None) -> str | None:
        if actor is None:
            return None
        station = actor.split(".", 1)[0]
        return station if station in self.model.stations else None

    def action_restart(self) -> None:
        target = self.selected_actor()
        if target is not None:
            self._confirmed(self.t("confirm.restart", target=target), "restart", {"target": target})

    def action_out_of_service(self) -> None:
        station = self._station_of(self.selected_actor())
        if station is not None:
            question = self.t("confirm.out_of_service", target=station)
            self._confirmed(question, "out_of_service", {"station": station})

    def action_return_to_service(self) -> None:
        station = self._station_of(self.selected_actor())
        if station is not None:
            self.console.send("return_to_service", {"station": station})

    def _confirmed(self, question: str, command: str, args: dict[str, object]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.console.send(command, args)

        self.app.push_screen(Confirm(self.t, question), answered)
