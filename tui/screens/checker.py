"""Checker: record a pre-fill or post-fill check (cylinder code, phase, the phase's items).

Keyboard first: Tab moves through the form. On an item, Space turns its state round (未检 → 合格
→ 不合格), `1` sets 合格, `2` 不合格, `0` 未检; Ctrl+S submits. An item shows its state as a
symbol and a word (`[ ] 未检`, `[✓] 合格`, `[✗] 不合格`), never by colour alone, and every item
starts 未检.

The result is the items' (`domain.checks`): 不合格 once an item failed (the items after it may stay
未检), 合格 once every item passed. Until then nothing is sent and the reply line names the items
still open, so the screen never sends a check the floor would refuse as incomplete. The reply (or
the reason it was refused) shows above the form; an accepted check clears the code and the items
for the next cylinder, and so does leaving the screen; each time it is shown, the code field has the
focus.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from domain.checks import ItemState
from tui.i18n import Texts
from tui.screens.base import ConsoleScreen

__all__ = ["CheckItem", "CheckerScreen", "result_of"]

_SYMBOL = {ItemState.NOT_CHECKED: "[ ]", ItemState.OK: "[✓]", ItemState.FAILED: "[✗]"}
_NEXT = {ItemState.NOT_CHECKED: ItemState.OK, ItemState.OK: ItemState.FAILED,
         ItemState.FAILED: ItemState.NOT_CHECKED}  # fmt: skip
# (key, action, words for the key bar) of an item that has the focus
_ITEM_KEYS = (("space", "cycle", "key.cycle"), ("1", "answer('ok')", "check.state.ok"),
              ("2", "answer('failed')", "check.state.failed"),
              ("0", "answer('not_checked')", "check.state.not_checked"))  # fmt: skip


def result_of(states: Mapping[str, ItemState]) -> str | None:
    """The result a check's items give: `fail` once one failed (a fail names a failed item), `pass`
    once every one passed (a pass answers every item as checked and passed), else None: not yet."""
    if ItemState.FAILED in states.values():
        return "fail"
    return "pass" if all(state == ItemState.OK for state in states.values()) else None


class CheckItem(Static, can_focus=True):
    """One check item: its state (symbol and word) and its text; keys or a click change the state."""

    class Changed(Message):
        """An item's state changed: the screen shows the result the items now give."""

    def __init__(self, texts: Texts, key: str, text: str) -> None:
        super().__init__(id=f"item-{key}", markup=False)
        self.t = texts
        self.key = key
        self.text = text
        self.state = ItemState.NOT_CHECKED
        for keys, action, words in _ITEM_KEYS:
            self._bindings.bind(keys, action, texts(words))
        # The items are a list: the arrows walk it as Tab does.
        self._bindings.bind("down", "app.focus_next", show=False)
        self._bindings.bind("up", "app.focus_previous", show=False)
        # The state words in one column whatever their length (不合格 is wider than 合格).
        self._width = max(cell_len(texts(f"check.state.{state}")) for state in ItemState)
        self._show()

    def set_state(self, state: ItemState) -> None:
        if state != self.state:
            self.state = state
            self._show()
            self.post_message(self.Changed())

    def action_cycle(self) -> None:
        self.set_state(_NEXT[self.state])

    def action_answer(self, state: str) -> None:
        self.set_state(ItemState(state))

    def on_click(self) -> None:
        self.action_cycle()

    def _show(self) -> None:
        word = self.t(f"check.state.{self.state}")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"{_SYMBOL[self.state]} ", style="bold")
        line.append(word + " " * (self._width - cell_len(word) + 2))
        line.append(self.text)
        for state in ItemState:
            self.set_class(state == self.state, f"-{state}")
        self.update(line)


class Choice(RadioButton):
    """A radio button whose choice shows without colour: `●` chosen, blank not (a plain one shows
    `●` either way, told apart by colour alone)."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "●" if self.value else " "


class CheckerScreen(ConsoleScreen):
    name_key = "screen.checker"
    AUTO_FOCUS = "#cylinder"  # a checker scans or types the code first
    phase = "pre"
    items: tuple[CheckItem, ...] = ()

    def compose(self) -> ComposeResult:
        t = self.t
        yield from self.compose_status()
        # Above the form, not in it: seen on any terminal height, however far the form is scrolled.
        yield Static(id="check-reply", markup=False)
        with VerticalScroll(id="checker"):
            yield Static(t("check.cylinder"), markup=False)
            yield Input(id="cylinder", max_length=256)  # a code, or a whole label as scanned
            with Horizontal(id="choices"):
                with Vertical():
                    yield Static(t("check.phase"), markup=False)
                    with RadioSet(id="phase"):
                        yield Choice(t("check.pre"), value=True, id="phase-pre")
                        yield Choice(t("check.post"), id="phase-post")
                with Vertical():
                    yield Static(t("check.result"), markup=False)
                    yield Static(id="result", markup=False)
                with Vertical():
                    yield Static(t("check.station"), markup=False)
                    yield Input(id="station", max_length=16)
            yield Static(t("check.items"), markup=False)
            yield Static(t("check.keys"), id="item-keys", markup=False)
            yield Vertical(id="items")
            yield Button(f"{t('key.submit')} (Ctrl+S)", id="submit", variant="primary")
        yield from self.compose_footer()

    async def on_mount(self) -> None:
        await self._show_items("pre")

    async def _show_items(self, phase: str) -> None:
        """The phase's items, every one 未检 (a new phase or a new cylinder starts unchecked)."""
        self.phase = phase
        self.items = tuple(CheckItem(self.t, key, text) for key, text in self.t.check_items(phase))
        box = self.query_one("#items", Vertical)
        await box.remove_children()
        await box.mount_all(self.items)
        self._show_result()

    def on_screen_resume(self) -> None:
        # Each use starts at the code, the first thing a checker does (also after pressing keys
        # elsewhere); ConsoleScreen's own handler redraws the screen.
        self.query_one("#cylinder", Input).focus()

    def on_screen_suspend(self) -> None:
        # A check belongs to the cylinder in hand: a half-done form left behind on a shared
        # terminal must not be finished later for another cylinder. The phase and the station
        # stay: they are the checker's post, not the cylinder's.
        self._clear()
        self.query_one("#check-reply", Static).update("")

    def _clear(self) -> None:
        """Ready for the next cylinder: no code, every item 未检."""
        self.query_one("#cylinder", Input).value = ""
        for item in self.items:
            item.set_state(ItemState.NOT_CHECKED)

    def _states(self) -> dict[str, ItemState]:
        return {item.key: item.state for item in self.items}

    def _show_result(self) -> None:
        result = result_of(self._states())
        if result is None:
            still_open = sum(item.state != ItemState.OK for item in self.items)
            shown = Text(self.t("check.incomplete", n=still_open))
        else:
            shown = Text(self.t(f"check.{result}"), style="bold")
        self.query_one("#result", Static).update(shown)

    def on_check_item_changed(self, _event: CheckItem.Changed) -> None:
        self._show_result()

    async def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id == "phase":
            await self._show_items("post" if event.pressed.id == "phase-post" else "pre")

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
        states = self._states()
        result = result_of(states)
        if result is None:
            still_open = [item.text for item in self.items if item.state != ItemState.OK]
            reply.update(t("check.still_open", items=t("sep").join(still_open)))
            return
        items = {key: str(state) for key, state in states.items()}
        args: dict[str, object] = {"cylinder": code, "phase": self.phase, "result": result, "items": items}
        station = self.query_one("#station", Input).value.strip()
        if station:
            args["station"] = station

        def answered(ok: bool, message: str) -> None:
            reply.update(t("check.sent" if ok else "check.refused", message=message))
            if ok:  # the next cylinder is checked afresh: its code first, every item 未检
                self._clear()
                self.query_one("#cylinder", Input).focus()

        self.console.send("check", args, answered)
