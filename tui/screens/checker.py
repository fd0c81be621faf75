"""Checker: record a pre-fill or post-fill check (cylinder code, DOMAIN.md's items, result).

Keyboard first: Tab moves through the form, Space toggles, Ctrl+S submits. Every item starts
unticked ("not checked"); the result is the checker's own judgement, sent as given. The reply (or
the reason it was refused) is shown under the form; the code is cleared only when it was accepted.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, RadioButton, RadioSet, Static

from tui.screens.base import ConsoleScreen

__all__ = ["CheckerScreen"]


class CheckerScreen(ConsoleScreen):
    name_key = "screen.checker"
    AUTO_FOCUS = "#cylinder"  # a checker scans or types the code first
    phase = "pre"

    def compose(self) -> ComposeResult:
        t = self.t
        yield from self.compose_status()
        with VerticalScroll(id="checker"):
            yield Static(id="check-reply", markup=False)  # on top: seen on any terminal height
            yield Static(t("check.cylinder"), markup=False)
            yield Input(id="cylinder", max_length=64)
            with Horizontal(id="choices"):
                with Vertical():
                    yield Static(t("check.phase"), markup=False)
                    with RadioSet(id="phase"):
                        yield RadioButton(t("check.pre"), value=True, id="phase-pre")
                        yield RadioButton(t("check.post"), id="phase-post")
                with Vertical():
                    yield Static(t("check.result"), markup=False)
                    with RadioSet(id="result"):
                        yield RadioButton(t("check.pass"), value=True, id="result-pass")
                        yield RadioButton(t("check.fail"), id="result-fail")
                with Vertical():
                    yield Static(t("check.station"), markup=False)
                    yield Input(id="station", max_length=16)
            yield Static(t("check.items"), markup=False)
            yield Vertical(id="items")
            yield Button(f"{t('key.submit')} (Ctrl+S)", id="submit", variant="primary")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self._show_items("pre")

    def _show_items(self, phase: str) -> None:
        self.phase = phase
        box = self.query_one("#items", Vertical)
        box.remove_children()
        box.mount_all(Checkbox(label, id=f"item-{key}") for key, label in self.t.check_items(phase))

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id == "phase":
            self._show_items("post" if event.pressed.id == "phase-post" else "pre")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self.action_submit()

    def action_submit(self) -> None:
        t = self.t
        code = self.query_one("#cylinder", Input).value.strip()
        reply = self.query_one("#check-reply", Static)
        if not code:
            reply.update(t("check.need_cylinder"))
            return
        result = "fail" if self.query_one("#result-fail", RadioButton).value else "pass"
        items = {key: "ok" if self.query_one(f"#item-{key}", Checkbox).value else "not_checked"
                 for key, _ in t.check_items(self.phase)}  # fmt: skip
        args: dict[str, object] = {"cylinder": code, "phase": self.phase, "result": result, "items": items}
        station = self.query_one("#station", Input).value.strip()
        if station:
            args["station"] = station

        def answered(ok: bool, message: str) -> None:
            reply.update(t("check.sent" if ok else "check.refused", message=message))
            if ok:
                self.query_one("#cylinder", Input).value = ""

        self.console.send("check", args, answered)
