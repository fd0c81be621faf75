"""Alarms (ISA-18.2): unacknowledged first and counted in the status line; acknowledge or shelve."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from tui.screens.base import ConsoleScreen, cell, clock, table

__all__ = ["AlarmsScreen"]

_SEVERITY_STYLE = {"critical": "bold reverse", "high": "bold"}


class AlarmsScreen(ConsoleScreen):
    name_key = "screen.alarms"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield table(
            self.t, "alarms", "col.state", "col.severity", "col.time", "col.station", "col.text", cursor=True
        )
        yield from self.compose_footer()

    def show_body(self) -> None:
        rows = self.query_one(DataTable)
        selected = self.selected_alarm()
        rows.clear()
        alarms = self.model.alarms_in_order()
        for a in alarms:
            style = "bold" if a.needs_action else "dim" if a.state == "shelved" else ""
            rows.add_row(
                cell(self.t.word(a.state), style),
                cell(self.t.word(a.severity), _SEVERITY_STYLE.get(a.severity, "")),
                cell(clock(a.raised_at)),
                cell(a.station),
                cell(self.t.alarm_text(a.kind, a.text_name, a.params, a.message), style),
                key=a.alarm_id,
            )
        if not alarms:
            rows.add_row(cell(self.t("alarm.none")), cell(""), cell(""), cell(""), cell(""))
        if selected is not None and selected in self.model.alarms:
            rows.move_cursor(row=rows.get_row_index(selected))

    def selected_alarm(self) -> str | None:
        rows = self.query_one(DataTable)
        if rows.row_count == 0 or not self.model.alarms:
            return None
        try:
            key = rows.coordinate_to_cell_key(rows.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # (the table was just redrawn)
            return None
        return key if key in self.model.alarms else None

    def action_ack(self) -> None:
        alarm_id = self.selected_alarm()
        if alarm_id is not None:
            self.console.send("ack", {"alarm_id": alarm_id})

    def action_shelve(self) -> None:
        alarm_id = self.selected_alarm()
        if alarm_id is not None:
            self.console.send("shelve", {"alarm_id": alarm_id, "minutes": 60})
