"""What every console screen shares: the status line, the key bar, words, and redrawing.

Screens read the `ConsoleModel`; the app calls `show()` on the visible screen when the model
changed (at most 10 times a second), so a busy floor never floods the terminal. Key bindings are
added per instance so their descriptions are in the console's language.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Footer

from tui.i18n import Texts, plain
from tui.model import ConsoleModel
from tui.widgets import StatusLine

if TYPE_CHECKING:
    from tui.app import ConsoleApp

__all__ = ["ConsoleScreen", "cell", "clock", "table"]

_WIDE = 120  # columns from which the key bar has room to spare


def cell(value: Any, style: str = "") -> Text:
    """A table cell as plain text (DataTable would read a str as markup), without control characters."""
    return Text("—" if value is None else plain(str(value)), style=style)


def clock(ts: Any) -> str:
    """A time (seconds since the epoch) as the local time of day, hh:mm:ss."""
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        return "—"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def table(texts: Texts, table_id: str, *column_keys: str, cursor: bool = False) -> DataTable[Text]:
    """A table with its columns (named in the console's language), made before it is mounted."""
    t = DataTable[Text](id=table_id, cursor_type="row" if cursor else "none", show_cursor=cursor)
    for key in column_keys:
        t.add_column(texts(key), key=key)
    return t


class ConsoleScreen(Screen[None]):
    name_key = ""  # the i18n key of the screen's name

    def __init__(self, texts: Texts, model: ConsoleModel, keys: Iterable[tuple[str, str, str]] = ()) -> None:
        super().__init__()
        self.t = texts
        self.model = model
        self._show_again: Timer | None = None  # a redraw waiting for the screen to be whole
        # Through `make_bindings`, as Textual reads BINDINGS: a key given as its character ("[")
        # becomes the key's name ("left_square_bracket"), or it is never matched.
        named = ((key, action, texts(text_key)) for key, action, text_key in keys)
        for binding in Binding.make_bindings(named):
            self._bindings.key_to_bindings.setdefault(binding.key, []).append(binding)

    @property
    def console(self) -> ConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose_status(self) -> ComposeResult:
        yield StatusLine(self.t, self.model)

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        # A narrow terminal gets the compact key bar, so that the last keys are not cut off.
        for footer in self.query(Footer):
            footer.compact = event.size.width < _WIDE
        self.show()

    def on_screen_resume(self) -> None:
        self.sub_title = self.t(self.name_key)
        self.show()

    def show(self) -> None:
        if not self.is_attached:
            return  # (the console is closing: nothing to draw on)
        status = self.query(StatusLine)
        if not self.is_mounted or not status or not all(w.is_mounted for w in self.walk_children(Widget)):
            # Shown while not whole: on a loaded machine the redraw timer can come between the
            # mounting of a screen's status line and of its tables, or after the screen is marked
            # mounted and before its children are, or while they are being taken down. Drawn as
            # soon as they are all there (looked at again shortly, once however often it is asked:
            # not on every refresh, which would keep the console busy), not left blank until the
            # floor next changes.
            if self._show_again is None:
                self._show_again = self.set_timer(0.05, self._shown_again)
            return
        status.first().show()
        self.show_body()

    def _shown_again(self) -> None:
        self._show_again = None
        self.show()

    def show_body(self) -> None:
        """Redraw what the screen shows from the model."""
