"""The check screen (F5): items in three states, and the result the items give, so the screen
never sends a check the floor would refuse (the floor's rule: `domain.checks.check_problem`)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from textual.widgets import Input, Static

from domain.checks import ItemState, check_problem, standard_items
from tests.support.tui_sample import sample_model
from tui.app import ConsoleApp
from tui.i18n import Texts
from tui.screens.checker import CheckItem, result_of


@pytest.mark.parametrize("phase", ["pre", "post"])
def test_the_result_the_items_give_is_one_the_floor_takes_and_no_pass_is_held_back(phase: str) -> None:
    keys = standard_items(phase)
    for states in itertools.product(list(ItemState), repeat=len(keys)):
        items = dict(zip(keys, states, strict=True))
        answers = {key: str(state) for key, state in items.items()}
        result = result_of(items)
        if result is not None:
            assert check_problem(phase, result == "pass", answers) is None, answers
        else:  # not sent: neither a pass nor a fail would be taken
            assert check_problem(phase, True, answers) is not None
            assert check_problem(phase, False, answers) is not None


def submit_with(lang: str, keys: list[str]) -> tuple[str, str, list[str]]:
    """Press `keys` on the check screen (the code typed first), then Ctrl+S: the reply line, the
    result shown and each item's line."""

    async def run() -> tuple[str, str, list[str]]:
        app = ConsoleApp(sample_model(), Texts(lang))  # no connection: a sent command is "not connected"
        async with app.run_test(size=(140, 36)) as pilot:
            await pilot.press("f5", *"HY00120001000", *keys, "ctrl+s")
            line = app.screen.query_one("#check-reply", Static)
            for _ in range(100):  # a sent check's reply comes from a worker
                await pilot.pause(0.05)
                if str(line.render()):
                    break
            reply = str(line.render())
            result = str(app.screen.query_one("#result", Static).render())
            items = [str(item.render()) for item in app.screen.query(CheckItem)]
            return reply, result, items

    return asyncio.run(run())


def test_a_pass_with_items_left_open_is_not_sent_and_the_open_items_are_named() -> None:
    # The first two items passed, the rest never looked at.
    reply, result, items = submit_with("zh", ["tab", "tab", "tab", "1", "down", "space"])
    assert result == "未完成：4 项未检"
    still_open = "有余压；无火烤或烫伤；无严重腐蚀、凹陷、变形；瓶阀与压盖紧固、标准阀"
    assert reply == f"未提交：以下项目尚未检查合格：{still_open}"
    assert items[1:3] == ["[✓] 合格    附件（护罩、底座、手轮）", "[ ] 未检    有余压"]


def test_every_item_passed_is_a_pass_and_is_sent() -> None:
    reply, result, items = submit_with("en", ["tab", "tab", "tab", *["1", "down"] * 6])
    assert result == "Pass"
    assert all(line.startswith("[✓] passed ") for line in items)
    assert reply == "Not accepted: not connected: command not sent"  # sent (and no floor to take it)


def test_a_failed_item_makes_a_fail_that_is_sent_with_the_rest_unchecked() -> None:
    reply, result, items = submit_with("zh", ["tab", "tab", "tab", "down", "down", "2"])
    assert result == "不合格"
    assert items[2] == "[✗] 不合格  有余压"
    assert reply == "未接受：未连接，命令未发送"


def test_each_use_of_the_check_screen_starts_empty_at_the_code_field() -> None:
    """A half-done check left behind (code typed, an item passed, the focus on an item) is not
    there when the screen is next used: the code is empty, every item 未检, the code field focused."""

    async def run() -> tuple[str, list[ItemState], str | None]:
        app = ConsoleApp(sample_model(), Texts("zh"))
        async with app.run_test(size=(140, 36)) as pilot:
            await pilot.press("f5", *"HY00120001000", "tab", "tab", "tab", "1", "f1")
            await pilot.pause()
            await pilot.press("f5")
            await pilot.pause()
            code = app.screen.query_one("#cylinder", Input).value
            states = [item.state for item in app.screen.query(CheckItem)]
            focused = app.focused.id if app.focused is not None else None
            return code, states, focused

    code, states, focused = asyncio.run(run())
    assert code == ""
    assert states == [ItemState.NOT_CHECKED] * 6
    assert focused == "cylinder"
