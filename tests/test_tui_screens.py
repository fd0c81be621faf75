"""Every console screen, in Chinese and English, as a person sees it (SVG snapshots).

Baselines live in tests/__snapshots__/; after a deliberate change to a screen, look at the new
pictures (`pytest tests/test_tui_screens.py --snapshot-update`, then the report) before committing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.tui_sample import sample_model
from tui.app import ConsoleApp
from tui.i18n import Texts

SIZE = (140, 36)


@pytest.fixture(autouse=True)
def beijing_time() -> Iterator[None]:
    """Screens show the plant's time of day: the same pictures on any machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def app(lang: str, link: str = "connected") -> ConsoleApp:
    return ConsoleApp(sample_model(link), Texts(lang))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    ("screen", "keys"),
    [
        ("floor", []),
        ("alarms", ["f2"]),
        ("station", ["f3"]),
        ("maintenance", ["f4"]),
        ("checker", ["f5"]),
        ("shift", ["f6"]),
    ],
)
def test_screen(snap_compare, lang: str, screen: str, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app(lang), press=keys, terminal_size=SIZE)


def test_floor_when_the_link_is_down_says_so_and_greys_out(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app("zh", link="disconnected"), terminal_size=SIZE)


def test_station_detail_of_the_next_station(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app("zh"), press=["f3", "right"], terminal_size=SIZE)


def test_restart_asks_first(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app("zh"), press=["f4", "down", "r"], terminal_size=SIZE)


def test_checker_shows_the_post_fill_items(snap_compare) -> None:  # type: ignore[no-untyped-def]
    # Tab from the code to the phase, then down to "post-fill" and select it.
    assert snap_compare(app("en"), press=["f5", "tab", "down", "enter"], terminal_size=SIZE)


def test_checker_shows_each_items_state_in_words_and_the_result_they_give(snap_compare) -> None:  # type: ignore[no-untyped-def]
    # To the first item; passed, the next passed, the next failed, the next passed and back to not
    # checked (Space turns the state round): the result is a fail, named by its failed item.
    keys = ["f5", "tab", "tab", "tab", "1", "down", "space", "down", "2", "down", "1", "0"]
    assert snap_compare(app("zh"), press=keys, terminal_size=SIZE)
