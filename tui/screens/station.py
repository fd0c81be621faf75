"""Station detail: recent fills, refusals with their reasons in words, checks, the preact in use."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from domain.events import FillAborted
from tui.i18n import plain
from tui.screens.base import ConsoleScreen, cell, clock, table

__all__ = ["StationScreen"]


class StationScreen(ConsoleScreen):
    name_key = "screen.station"
    station_id: str | None = None

    def compose(self) -> ComposeResult:
        t = self.t
        yield from self.compose_status()
        with VerticalScroll(id="station-detail"):
            yield Static(id="station-head", markup=False)
            yield Static(t("station.fills"), classes="section", markup=False)
            yield table(t, "fills", "col.time", "col.cylinder", "col.net", "col.error", "col.flags")
            yield Static(t("station.refusals"), classes="section", markup=False)
            yield table(t, "refusals", "col.time", "col.cylinder", "col.reasons")
            yield Static(t("station.checks"), classes="section", markup=False)
            yield table(t, "checks", "col.time", "col.cylinder", "col.phase", "col.result", "col.checker")
        yield from self.compose_footer()

    def show_body(self) -> None:
        t = self.t
        if self.station_id not in self.model.stations and self.model.stations:
            self.station_id = next(iter(self.model.stations))
        s = self.model.stations.get(self.station_id or "")
        head = Text()
        if s is None:
            head.append(t("station.none"))
            self.query_one("#station-head", Static).update(head)
            return
        head.append(plain(f"{s.id}  "), style="bold")
        head.append(t.state(s.state))
        head.append(f"   {t('col.cylinder')} ")
        head.append(plain(s.cylinder or t("tile.none")))
        head.append(f"   {t('tile.operator')} ")
        head.append(plain(s.operator_name or s.operator or t("tile.none")))
        preact = "—" if s.preact_kg is None else f"{s.preact_kg:.3f} kg"
        head.append(plain(f"   {t('tile.preact')} {preact} ({t.word(s.cutoff) if s.cutoff else '—'})"))
        self.query_one("#station-head", Static).update(head)
        self._rows("fills", [self._fill_row(f) for f in s.recent_fills])
        self._rows("refusals", [
            (cell(clock(r.get("at"))), cell(r.get("cylinder")),
             # One reason a line: a refusal's reasons are read whole, also on a narrow terminal.
             Text("\n").join(cell(t.reason(str(c))) for c in r.get("reasons") or []) or cell(None))
            for r in s.recent_refusals
        ])  # fmt: skip
        self._rows("checks", [
            (cell(clock(c.get("at"))), cell(c.get("cylinder")), cell(t.word(str(c.get("phase")))),
             cell(t.word(str(c.get("result"))), "bold" if c.get("result") == "fail" else ""),
             cell(c.get("checker")))
            for c in s.recent_checks
        ])  # fmt: skip

    def _fill_row(self, f: dict[str, Any]) -> tuple[Text, ...]:
        t = self.t
        if f.get("type") == FillAborted.TYPE:
            return (cell(clock(f.get("at"))), cell(f.get("cylinder")), cell(None), cell(None),
                    cell(t("aborted", reason=t.reason(str(f.get("reason")))), "bold"))  # fmt: skip
        flags = [str(x) for x in f.get("flags") or []]
        net = f.get("net_kg")
        return (
            cell(clock(f.get("at"))), cell(f.get("cylinder")),
            cell(f"{net:.3f}" if isinstance(net, int | float) else net),
            cell(f"{f.get('error_g'):+d}" if isinstance(f.get("error_g"), int) else f.get("error_g")),
            cell(" ".join(t.reason(x) for x in flags), "bold" if flags else ""),
        )  # fmt: skip

    def _rows(self, table_id: str, rows: list[tuple[Text, ...]]) -> None:
        rows_table = self.query_one(f"#{table_id}", DataTable)
        rows_table.clear()
        for row in rows:
            rows_table.add_row(*row, height=None)
        rows_table.styles.height = "auto"

    def step(self, delta: int) -> None:
        ids = list(self.model.stations)
        if not ids:
            return
        i = ids.index(self.station_id) if self.station_id in ids else 0
        self.station_id = ids[(i + delta) % len(ids)]
        self.show()

    def action_next_station(self) -> None:
        self.step(1)

    def action_prev_station(self) -> None:
        self.step(-1)

    def action_pause(self) -> None:
        if self.station_id:
            self.console.send("pause", {"station": self.station_id})

    def action_resume(self) -> None:
        if self.station_id:
            self.console.send("resume", {"station": self.station_id})
