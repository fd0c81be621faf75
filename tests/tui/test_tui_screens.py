"""Every console screen, in Chinese and English, as a person sees it (SVG snapshots).

Baselines live in tests/tui/__snapshots__/test_tui_screens/; after a deliberate change to a screen,
look at the new pictures (`pytest tests/tui/test_tui_screens.py --snapshot-update`, then the report)
before committing.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import Iterator

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable

from domain.events import AlarmRaised
from supervisor.console.protocol import Event
from tests.support.tui_sample import sample_model
from tui.app import ConsoleApp
from tui.i18n import Texts
from tui.widgets import StationTile, StatusLine

SIZE = (140, 40)
SMALL_SIZES = [(80, 24), (100, 30)]  # the least terminal the README names, and a common one


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


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", SMALL_SIZES, ids=lambda size: "{}x{}".format(*size))
@pytest.mark.parametrize(("screen", "keys"), [("floor", []), ("alarms", ["f2"]), ("station", ["f3"])])
def test_screen_on_a_small_terminal(  # type: ignore[no-untyped-def]
    snap_compare, lang: str, size: tuple[int, int], screen: str, keys: list[str]
) -> None:
    """The screens watched all shift, on the least terminal: nothing a person needs is cut off."""
    assert snap_compare(app(lang), press=keys, terminal_size=size)


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


def test_device_and_user_text_reaches_the_screen_as_plain_text_without_control_characters() -> None:
    """A label, a name, an alarm's text are data: `[red]` shows as written, an escape sequence
    never reaches the terminal."""

    async def run() -> tuple[str, str]:
        model = sample_model()
        s1 = model.stations["S1"]
        s1.cylinder, s1.operator, s1.operator_name = "HY\x1b[2J001[red]", "OP\r01", "张\x07三"
        raised = AlarmRaised("S1.x", "device.scale_lost", "high", "秤\x1b]0;title\x07丢失[b]", "S1")
        model.receive(Event(0.0, raised))
        console = ConsoleApp(model, Texts("zh"))
        async with console.run_test(size=SIZE) as pilot:
            await pilot.pause()
            tile = str(console.screen.query_one("#tile-S1", StationTile).render())
            await pilot.press("f2")
            await pilot.pause()
            rows = console.screen.query_one(DataTable)
            shown = " ".join(str(c) for row in range(rows.row_count) for c in rows.get_row_at(row))
            return tile, shown

    tile, alarms = asyncio.run(run())
    assert "HY[2J001[red]" in tile
    assert "张三 (OP01)" in tile
    assert "秤]0;title丢失[b]" in alarms
    assert not any(ch in tile + alarms for ch in "\x1b\x07\r")


def screen_text(console: ConsoleApp) -> list[str]:
    """The screen as a person reads it, line by line."""
    width, height = console.size
    out = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    out.print(console.screen._compositor.render_update(full=True))
    return out.export_text().splitlines()


async def shown_once(console: ConsoleApp, pilot: Pilot[None], text: str, within_s: float = 10.0) -> list[str]:
    """The screen once `text` is on it, or as it is after `within_s`. A redraw that waits for a
    screen to be whole comes on a timer: on a loaded machine one pause can end before it fires."""
    deadline = time.monotonic() + within_s
    shown = screen_text(console)
    while text not in "\n".join(shown) and time.monotonic() < deadline:
        await pilot.pause(0.05)
        shown = screen_text(console)
    return shown


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [(80, 24), (100, 30), (140, 40)])
def test_floor_tiles_show_weight_target_progress_and_problem_whole_at_every_size(
    lang: str, size: tuple[int, int]
) -> None:
    """From 80×24 up, no tile cuts off what a person reads it for; the bar is the net filled
    (tare 15.2 → target 29.7 kg at 24.31 kg gross: 63 %, where gross/target would say 82 %)."""
    t = Texts(lang)

    async def run() -> list[str]:
        console = ConsoleApp(sample_model(), t)
        async with console.run_test(size=size) as pilot:
            await pilot.pause()
            return screen_text(console)

    lines = asyncio.run(run())
    text = "\n".join(lines)
    assert f"{t('tile.weight')} 24.31 kg  {t('tile.target')} 29.70 kg" in text
    assert " 63 %" in text
    # The problem (S2's refusal) whole, if wrapped onto the tile's last line.
    assert all(word in text for word in t.reason("label.foreign_unit").split())
    assert t("header.unacknowledged", n=1) in lines[0]


def test_brackets_step_through_the_stations_on_f3() -> None:
    """`]` and `[` are bound by their key names, as Textual reports them when pressed."""

    async def run() -> list[str | None]:
        console = ConsoleApp(sample_model(), Texts("en"))
        seen: list[str | None] = []
        async with console.run_test(size=SIZE) as pilot:
            await pilot.press("f3")
            await pilot.pause()
            for key in ("right_square_bracket", "right_square_bracket", "left_square_bracket"):
                seen.append(console.screen.station_id)  # type: ignore[attr-defined]
                await pilot.press(key)
                await pilot.pause()
            seen.append(console.screen.station_id)  # type: ignore[attr-defined]
        return seen

    assert asyncio.run(run()) == ["S1", "S2", "S3", "S2"]


def test_aborted_fills_from_a_snapshot_show_as_aborted_rows_not_blank_ones() -> None:
    async def run() -> list[str]:
        console = ConsoleApp(sample_model(), Texts("en"))
        async with console.run_test(size=SIZE) as pilot:
            await pilot.press("f3")
            await pilot.pause()
            return screen_text(console)

    text = "\n".join(asyncio.run(run()))
    assert "HY00120001002" in text
    assert "aborted: no flow" in text


@pytest.mark.parametrize("name", ["alarms", "station", "maintenance", "checker", "shift"])
def test_a_screen_redrawn_while_it_is_still_mounting_is_drawn_once_it_is_whole(name: str) -> None:
    """On a loaded machine the redraw timer can show a screen between the mounting of its status line
    and of its tables (F6 once failed there with NoMatches in `make demo`). Every step of the mount
    is shown here, as the timer might; the screen then shows the floor."""

    async def run() -> list[str]:
        console = app("zh")
        async with console.run_test(size=SIZE) as pilot:
            await pilot.pause()
            mounting = console.switch_screen(name)
            screen = console.screen
            while not screen.is_mounted:
                screen.show()  # (raised before the screen waited for its whole tree)
                await asyncio.sleep(0)
            await mounting
            return await shown_once(console, pilot, "已连接")

    shown = "\n".join(asyncio.run(run()))
    assert "已连接" in shown  # the status line is drawn
    assert "Traceback" not in shown


def test_a_screen_redrawn_without_its_status_line_waits_for_it() -> None:
    """A screen marked mounted can still lack a widget: its children mount after it, and are taken
    down before it when the console closes (the floor screen once failed there with NoMatches, in
    CI). The redraw waits for the status line instead of ending the console."""

    async def run() -> list[str]:
        console = app("zh")
        async with console.run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen = console.screen
            status = screen.query_one(StatusLine)
            await status.remove()
            screen.show()  # (raised NoMatches)
            await pilot.pause()
            await screen.mount(StatusLine(screen.t, screen.model), before=0)
            return await shown_once(console, pilot, "已连接")

    shown = "\n".join(asyncio.run(run()))
    assert "已连接" in shown  # drawn once it is back
