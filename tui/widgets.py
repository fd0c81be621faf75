"""The console's own widgets: the status line and the station tile.

Everything shown here is built as `rich.text.Text`, never as markup: labels, names and messages
come from devices and people, and `[red]` in a label must show as `[red]`, not turn the screen red;
nor may an escape sequence in one reach the terminal (`plain` takes control characters out).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.i18n import Texts, plain
from tui.model import ConsoleModel, StationView

__all__ = ["ABNORMAL_STATES", "StationTile", "StatusLine", "weight_bar"]

# ISA-101: calm grey while all is well; colour only where someone must look.
ABNORMAL_STATES = frozenset({"rejected", "fault", "out_of_service", "paused"})


def weight_bar(gross_kg: float | None, target_kg: float | None, width: int = 20) -> str:
    """`██████░░░░` for gross against target (clamped: an overfill shows full, not wider)."""
    if gross_kg is None or not target_kg or target_kg <= 0:
        return "░" * width
    filled = round(max(0.0, min(1.0, gross_kg / target_kg)) * width)
    return "█" * filled + "░" * (width - filled)


def _kg(value: float | None) -> str:
    # An empty scale's noise rounds to 0.00, never to "-0.00".
    return "—" if value is None else f"{value:.2f}".replace("-0.00", "0.00")


class StatusLine(Static):
    """Title, link state, who is logged in, unacknowledged alarms, storage health."""

    def __init__(self, texts: Texts, model: ConsoleModel) -> None:
        super().__init__(id="status", markup=False)
        self.t = texts
        self.model = model

    def show(self) -> None:
        t, m = self.t, self.model
        line = Text(t("title"), style="bold")
        line.append("  │  ")
        link_style = {"connected": "", "connecting": "italic"}.get(m.link, "bold reverse")
        line.append(t(f"link.{m.link}"), style=link_style)
        if m.user:
            line.append("  │  ")
            line.append(plain(t("header.user", user=m.user, role=t.word(m.role or ""))))
        line.append("  │  ")
        n = m.unacknowledged
        line.append(t("header.unacknowledged", n=n), style="bold reverse" if n else "")
        if not m.storage_healthy:
            line.append("  │  ")
            line.append(t("storage.unhealthy"), style="bold reverse")
        if m.records_backlog:
            line.append("  │  ")
            line.append(t("backlog", n=m.records_backlog))
        self.set_class(m.link != "connected", "-stale")
        self.set_class(n > 0, "-alarm")
        self.update(line)


class StationTile(Static, can_focus=True):
    """One station at a glance: state, cylinder, operator, live weight against target, last problem."""

    def __init__(self, texts: Texts, station_id: str) -> None:
        super().__init__(id=f"tile-{station_id}", classes="tile", markup=False)
        self.t = texts
        self.station_id = station_id

    def show(self, s: StationView, stale: bool) -> None:
        t = self.t
        text = Text(no_wrap=True, overflow="ellipsis")  # a tile's lines never wrap out of sight
        text.append(plain(s.id), style="bold")
        text.append("  ")
        text.append(t.state(s.state), style="bold" if s.state in ABNORMAL_STATES else "")
        text.append("\n")
        text.append(plain(s.cylinder or t("tile.none")))
        text.append("\n")
        text.append(f"{t('tile.operator')} ")
        if s.operator:
            text.append(plain(s.operator_name or s.operator))
            if s.operator_name:
                text.append(plain(f" ({s.operator})"))
        else:
            text.append(t("tile.none"))
        text.append("\n")
        target = s.target_kg if s.state in ("ready", "filling", "settling") else None
        text.append(weight_bar(s.gross_kg, target))
        text.append("\n")
        text.append(f"{t('tile.weight')} {_kg(s.gross_kg)} kg")
        if s.target_kg is not None and s.state in ("ready", "filling", "settling"):
            text.append(f"  {t('tile.target')} {_kg(s.target_kg)} kg")
        text.append("\n")
        if s.last_problem:
            text.append(f"{t('tile.last_error')}: ")
            text.append(plain(t.reason(s.last_problem)), style="bold")
        for state in ABNORMAL_STATES:
            self.set_class(s.state == state, f"-{state}")
        self.set_class(stale, "-stale")
        self.update(text)
