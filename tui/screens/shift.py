"""Shift: fills, refusals by reason, mean |error|, over/underfills, throughput; the platform sync."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable

from tui.screens.base import ConsoleScreen, cell, table

__all__ = ["ShiftScreen"]


class ShiftScreen(ConsoleScreen):
    name_key = "screen.shift"

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="shift"):
            yield table(self.t, "figures", "col.figure", "col.value")
            yield table(self.t, "reasons", "shift.by_reason", "col.count")
        yield table(self.t, "sync", "sync.title", "col.value")
        yield from self.compose_footer()

    def show_body(self) -> None:
        t, shift = self.t, self.model.shift
        figures = self.query_one("#figures", DataTable)
        figures.clear()
        for key, field in (("shift.fills", "fills"), ("shift.aborted", "aborted"),
                           ("shift.refusals", "refusals"), ("shift.mean_error", "mean_abs_error_g"),
                           ("shift.overfills", "overfills"), ("shift.underfills", "underfills"),
                           ("shift.per_hour", "fills_per_hour")):  # fmt: skip
            figures.add_row(cell(t(key)), cell(shift.get(field)))
        reasons = self.query_one("#reasons", DataTable)
        reasons.clear()
        by_reason = shift.get("refusals_by_reason")
        for code, count in by_reason.items() if isinstance(by_reason, dict) else ():
            reasons.add_row(cell(t.reason(str(code))), cell(count))
        sync = self.query_one("#sync", DataTable)
        sync.clear()
        if self.model.sync is None:
            sync.add_row(cell(t("sync.none")), cell(""))
            return
        s = self.model.sync
        for key, field in (("sync.backlog", "backlog"), ("sync.last_success", "last_success"),
                           ("sync.dead_letters", "dead_letters")):  # fmt: skip
            alarming = field == "dead_letters" and bool(s.get(field))
            sync.add_row(cell(t(key)), cell(s.get(field), "bold reverse" if alarming else ""))
