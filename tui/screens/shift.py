"""Shift: fills, refusals by reason, mean |error|, over/underfills, throughput; the platform sync."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable

from tui.i18n import Texts
from tui.model import dicts
from tui.screens.base import ConsoleScreen, cell, clock, table

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
        dead = s.get("dead_letters")
        sync.add_row(cell(t("sync.backlog")), cell(s.get("backlog")))
        sync.add_row(cell(t("sync.last_success")), cell(clock(s.get("last_success"))))
        sync.add_row(cell(t("sync.status")), cell(_state(t, s.get("status"))))
        _detail(t, sync, s.get("status"), s.get("detail"))
        if "registry_current" in s:
            registry = t("sync.current") if s.get("registry_current") else t("sync.behind")
            if s.get("registry_status") not in ("ok", None):
                registry += " · " + _state(t, s.get("registry_status"))
            sync.add_row(cell(t("sync.registry")), cell(registry))
            _detail(t, sync, s.get("registry_status"), s.get("registry_detail"))
        sync.add_row(cell(t("sync.dead_letters")), cell(dead, "bold reverse" if dead else ""))
        # The records the platform refused, newest first, with its reason: someone must act on them.
        for d in dicts(s.get("recent_dead_letters")):
            kind = t.word(str(d.get("kind", "")))
            sync.add_row(cell(f"  {kind} {d.get('record_id', '')}"), cell(d.get("reason"), "dim"))


def _state(t: Texts, status: object) -> str:
    """The state in words (`sync_status`: the code kept in brackets after a failure)."""
    return t.sync_status(status) if isinstance(status, str) else "—"


def _detail(t: Texts, rows: DataTable[Text], status: object, detail: object) -> None:
    """The platform's own words after a failure (what maintenance will ask for), on a row of
    their own: they are in the platform's language, never the main text."""
    if detail and status != "ok":
        rows.add_row(cell(f"  {t('link.detail')}"), cell(detail, "dim"))
