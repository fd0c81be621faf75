"""The console's link to a real console server: connect, follow, notice a loss, come back by itself."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import trio

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import raised
from domain.events import AlarmRaised, StationState
from simulator.in_process_floor import running_floor
from supervisor.console.in_process import InProcessAccess
from supervisor.console.server import ConsoleServer
from supervisor.storage.users import add_user
from tests.support.waiting import until
from tui.app import ConsoleApp
from tui.connection import ConsoleConnection
from tui.i18n import Texts
from tui.model import ConsoleModel


async def test_the_console_follows_the_floor_and_reconnects_when_the_server_is_back(tmp_path: Path) -> None:
    async with running_floor(tmp_path) as (floor, db, _physics), trio.open_nursery() as nursery:

        def add() -> str:
            with db.transaction() as conn:
                return add_user(conn, "王班长", "supervisor")

        token = await trio.to_thread.run_sync(add)
        first = trio.CancelScope()

        async def serve(scope: trio.CancelScope, port: int,
                        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:  # fmt: skip
            with scope:
                await ConsoleServer(InProcessAccess(floor, db), port=port).run(task_status=task_status)

        port = await nursery.start(serve, first, 0)
        model = ConsoleModel()
        link = ConsoleConnection(f"ws://127.0.0.1:{port}", token, model, max_backoff_s=0.5)
        nursery.start_soon(link.run)
        await until(lambda: model.link == "connected" and "S1" in model.stations)
        assert model.user == "王班长"
        assert model.role == "supervisor"
        floor.bus.publish(AlarmRaised("S1.scale_lost", "device.scale_lost", "high", "与秤失去联系", "S1"))
        await until(lambda: "S1.scale_lost" in model.alarms)
        assert model.unacknowledged == 1

        first.cancel()  # the floor's console server goes away
        await until(lambda: model.link == "disconnected")
        await nursery.start(serve, trio.CancelScope(), port)  # ... and comes back on its address
        await until(lambda: model.link == "connected" and link.sessions == 2)
        nursery.cancel_scope.cancel()


async def test_a_refused_token_shows_as_refused_not_as_a_live_floor(tmp_path: Path) -> None:
    async with running_floor(tmp_path) as (floor, db, _physics), trio.open_nursery() as nursery:
        port = await nursery.start(ConsoleServer(InProcessAccess(floor, db), port=0).run)
        model = ConsoleModel()
        nursery.start_soon(ConsoleConnection(f"ws://127.0.0.1:{port}", "not-a-token", model).run)
        await until(lambda: model.link == "refused")
        assert model.stations == {}
        assert model.link_why == "auth.invalid_token"
        nursery.cancel_scope.cancel()


async def test_nothing_listening_is_disconnected_and_retried() -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ConsoleModel()
    link = ConsoleConnection(f"ws://127.0.0.1:{port}", "t", model, max_backoff_s=0.2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(link.run)
        await until(lambda: model.link_why == "link.why.unreachable" and "Error" in model.link_detail)
        nursery.cancel_scope.cancel()


def _screen_lines(model: ConsoleModel, keys: tuple[str, ...] = (), lang: str = "zh") -> list[str]:
    """The console's floor screen (or the one `keys` open), as it shows `model` (rendered in a
    thread of its own: the console runs on asyncio, this test on trio)."""
    from tests.tui.test_tui_screens import screen_text  # (a helper of the screen tests)

    async def shot() -> list[str]:
        console = ConsoleApp(model, Texts(lang))
        async with console.run_test(size=(100, 30)) as pilot:
            await pilot.press(*keys)
            await pilot.pause()
            return screen_text(console)

    return asyncio.run(shot())


_ENGLISH = re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,})+")  # two English words running: a sentence


def _chinese_in_english(lines: list[str]) -> list[str]:
    """Lines of the English console with Chinese in them (the user's name, data, aside)."""
    return [line for line in lines if re.search(r"[\u4e00-\u9fff]", line.replace("王班长", ""))]


def _english_outside_the_detail(lines: list[str]) -> list[str]:
    return [line for line in lines if _ENGLISH.search(line) and not line.lstrip().startswith("技术细节")]


async def test_each_language_says_why_the_link_is_down_and_an_actor_failed_in_its_own_words(
    tmp_path: Path,
) -> None:
    """A refused token, a failed actor and a lost link are said in the console's language (no
    English sentence in the Chinese console, no Chinese in the English one); the server's or the
    socket's own English (`[Errno 111] Connect call failed`, a close reason) only on
    the detail line, an exception's class (`DeviceCrash`) not at all."""
    async with running_floor(tmp_path) as (floor, db, _physics), trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def serve(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await ConsoleServer(InProcessAccess(floor, db), port=0).run(task_status=task_status)

        port = await nursery.start(serve)
        refused = ConsoleModel()
        nursery.start_soon(ConsoleConnection(f"ws://127.0.0.1:{port}", "not-a-token", refused).run)
        await until(lambda: refused.link == "refused")
        lines = await trio.to_thread.run_sync(_screen_lines, refused)
        assert "无法登录：令牌无效或已吊销" in lines[0]
        assert _english_outside_the_detail(lines) == []
        lines = await trio.to_thread.run_sync(_screen_lines, refused, (), "en")
        assert "login refused: unknown or revoked token" in lines[0]
        assert _chinese_in_english(lines) == []

        def add() -> str:
            with db.transaction() as conn:
                return add_user(conn, "王班长", "supervisor")

        token = await trio.to_thread.run_sync(add)
        model = ConsoleModel()
        nursery.start_soon(ConsoleConnection(f"ws://127.0.0.1:{port}", token, model, max_backoff_s=0.2).run)
        await until(lambda: model.link == "connected")
        # S1's scale actor kept failing: the station's runtime gives it up, as it would.
        floor.alarms.post(raised("S1.out_of_service", AlarmKind.STATION_OUT_OF_SERVICE, "S1",
                                 actor="S1.scale", error="DeviceCrash"))  # fmt: skip
        floor.bus.publish(StationState("S1", "out_of_service"))
        await until(
            lambda: "S1.out_of_service" in model.alarms and model.stations["S1"].state == "out_of_service"
        )
        for keys in ((), ("f2",)):
            lines = await trio.to_thread.run_sync(_screen_lines, model, keys)
            run_on = "".join(line.strip(" ║│") for line in lines).replace(" ", "")  # (a tile wraps it)
            assert "S1.scale反复失败（设备或程序故障），工位停用" in run_on, "\n".join(lines)
            assert not any("DeviceCrash" in line for line in lines)
            assert _english_outside_the_detail(lines) == []
            lines = await trio.to_thread.run_sync(_screen_lines, model, keys, "en")
            assert _chinese_in_english(lines) == []
        scope.cancel()  # the floor's console server goes away: closed, then nothing listening
        await until(lambda: model.link_why == "link.why.unreachable")
        lines = await trio.to_thread.run_sync(_screen_lines, model)
        assert "连接中断，正在重连：连不上监控服务器" in lines[0]
        assert lines[1].lstrip().startswith("技术细节: ")
        assert "Error" in lines[1]  # the socket's own words, for maintenance, on their own line
        assert _english_outside_the_detail(lines) == []
        lines = await trio.to_thread.run_sync(_screen_lines, model, (), "en")
        assert "DISCONNECTED, reconnecting: cannot reach the console server" in lines[0]
        assert _chinese_in_english(lines) == []
        nursery.cancel_scope.cancel()
