"""The console's own widgets: the status line and the station tile.

Everything shown here is built as `rich.text.Text`, never as markup: labels, names and messages
come from devices and people, and `[red]` in a label must show as `[red]`, not turn the screen red;
nor may an escape sequence in one reach the terminal (`plain` takes control characters out).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.i18n import Texts, plain
from tui.model import ALARM_PROBLEM, ConsoleModel, StationView

__all__ = [
    "ABNORMAL_STATES",
    "StationTile",
    "StatusLine",
    "link_why",
    "problem_text",
    "progress",
    "weight_bar",
]

# ISA-101: calm grey while all is well; colour only where someone must look.
ABNORMAL_STATES = frozenset({"rejected", "fault", "out_of_service", "paused"})
_TITLE_FROM = 100  # columns from which the status line has room for the console's title


def progress(gross_kg: float | None, tare_kg: float | None, target_kg: float | None) -> float | None:
    """How far a fill is, 0.0 at the cylinder's tare to 1.0 at its target (clamped): the net that
    went in, not gross/target (a cylinder at tare would show half full)."""
    if gross_kg is None or target_kg is None:
        return None
    tare = tare_kg or 0.0
    if target_kg <= tare:
        return None
    return max(0.0, min(1.0, (gross_kg - tare) / (target_kg - tare)))


def weight_bar(done: float | None, width: int = 20) -> str:
    """`██████░░░░  60 %` for a fill's progress (an overfill shows full, not wider)."""
    if done is None:
        return "░" * width
    filled = round(done * width)
    return "█" * filled + "░" * (width - filled) + f" {round(done * 100):3d} %"


def _kg(value: float | None) -> str:
    # An empty scale's noise rounds to 0.00, never to "-0.00".
    return "—" if value is None else f"{value:.2f}".replace("-0.00", "0.00")


def link_why(t: Texts, model: ConsoleModel) -> str:
    """Why the link is down, in the console's language: the console's own words (`link.why.*`) or
    the floor's code worded by the catalogue (a refused token, a server's bye)."""
    if model.link_why.startswith("link.why."):
        return t(model.link_why)
    return t.said(model.link_why, model.link_why_params)


def problem_text(t: Texts, model: ConsoleModel, s: StationView) -> str | None:
    """A station's last problem in the console's language: a reason's words, or an alarm's text
    from its kind and parameters (never the floor's sentence, which is in the floor's language,
    where this build knows the kind)."""
    if not s.last_problem:
        return None
    if s.last_problem.startswith(ALARM_PROBLEM):
        alarm = model.alarms.get(s.last_problem.removeprefix(ALARM_PROBLEM))
        if alarm is None:  # cleared and acknowledged since: nothing to look at any more
            return None
        return t.alarm_text(alarm.kind, alarm.text_name, alarm.params, alarm.message)
    return t.reason(s.last_problem)


class StatusLine(Static):
    """Title, link state, who is logged in, unacknowledged alarms, storage health."""

    def __init__(self, texts: Texts, model: ConsoleModel) -> None:
        super().__init__(id="status", markup=False)
        self.t = texts
        self.model = model

    def show(self) -> None:
        t, m = self.t, self.model
        line = Text()
        if self.app.size.width >= _TITLE_FROM:  # on a narrow terminal the figures matter more
            line.append(t("title"), style="bold")
            line.append("  │  ")
        link_style = {"connected": "", "connecting": "italic"}.get(m.link, "bold reverse")
        line.append(t(f"link.{m.link}"), style=link_style)
        if m.link != "connected" and m.link_why:
            line.append(f"：{link_why(t, m)}" if t.lang == "zh" else f": {link_why(t, m)}", style=link_style)
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
        if m.link != "connected" and m.link_detail:
            # The technical detail on a line of its own, in its own words: for whoever maintains it.
            line.append(f"\n{t('link.detail')}: ")
            line.append(plain(m.link_detail), style="dim")
        self.set_class(m.link != "connected", "-stale")
        self.set_class(n > 0, "-alarm")
        self.update(line)


class StationTile(Static, can_focus=True):
    """One station at a glance: state, cylinder, operator, live weight against target, last problem."""

    def __init__(self, texts: Texts, station_id: str) -> None:
        super().__init__(id=f"tile-{station_id}", classes="tile", markup=False)
        self.t = texts
        self.station_id = station_id

    def show(self, s: StationView, stale: bool, bar_width: int = 20, problem: str | None = None) -> None:
        """`problem`: the station's last problem in words (`problem_text`)."""
        t = self.t
        # The floor screen sizes the tiles so that every line but the problem fits its width; the
        # problem may take the tile's last two lines rather than be cut.
        text = Text()
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
        text.append(weight_bar(progress(s.gross_kg, s.tare_kg, target), bar_width))
        text.append("\n")
        text.append(f"{t('tile.weight')} {_kg(s.gross_kg)} kg")
        if target is not None:
            text.append(f"  {t('tile.target')} {_kg(target)} kg")
        text.append("\n")
        if problem:
            # The last lines, wrapped rather than cut: the problem is why someone looks.
            text.append(f"{t('tile.last_error')}: ")
            text.append(plain(problem), style="bold")
        for state in ABNORMAL_STATES:
            self.set_class(s.state == state, f"-{state}")
        self.set_class(stale, "-stale")
        self.update(text)
