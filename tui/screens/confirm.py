"""A yes/no question before a command that stops something (restart, out of service)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.i18n import Texts

__all__ = ["Confirm"]


class Confirm(ModalScreen[bool]):
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        ("escape", "dismiss(False)", ""),
        ("n", "dismiss(False)", ""),
        ("y", "dismiss(True)", ""),
    ]

    def __init__(self, texts: Texts, question: str) -> None:
        super().__init__()
        self.t = texts
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, markup=False, id="question")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.t('confirm.yes')} (y)", id="yes", variant="warning")
                yield Button(f"{self.t('confirm.no')} (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
