"""The console's link to a real console server: connect, follow, notice a loss, come back by itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from domain.events import AlarmRaised
from simulator.in_process_floor import running_floor
from supervisor.console.in_process import InProcessAccess
from supervisor.console.server import ConsoleServer
from supervisor.storage.users import add_user
from tui.connection import ConsoleConnection
from tui.model import ConsoleModel


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110 - polling what another task sets
            await trio.sleep(0.02)


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
        await _until(lambda: model.link == "connected" and "S1" in model.stations)
        assert model.user == "王班长"
        assert model.role == "supervisor"
        floor.bus.publish(AlarmRaised("S1.scale_lost", "device.scale_lost", "high", "与秤失去联系", "S1"))
        await _until(lambda: "S1.scale_lost" in model.alarms)
        assert model.unacknowledged == 1

        first.cancel()  # the floor's console server goes away
        await _until(lambda: model.link == "disconnected")
        await nursery.start(serve, trio.CancelScope(), port)  # ... and comes back on its address
        await _until(lambda: model.link == "connected" and link.sessions == 2)
        nursery.cancel_scope.cancel()


async def test_a_refused_token_shows_as_refused_not_as_a_live_floor(tmp_path: Path) -> None:
    async with running_floor(tmp_path) as (floor, db, _physics), trio.open_nursery() as nursery:
        port = await nursery.start(ConsoleServer(InProcessAccess(floor, db), port=0).run)
        model = ConsoleModel()
        nursery.start_soon(ConsoleConnection(f"ws://127.0.0.1:{port}", "not-a-token", model).run)
        await _until(lambda: model.link == "refused")
        assert model.stations == {}
        assert model.link_detail == "auth.invalid_token"
        nursery.cancel_scope.cancel()


async def test_nothing_listening_is_disconnected_and_retried() -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = ConsoleModel()
    link = ConsoleConnection(f"ws://127.0.0.1:{port}", "t", model, max_backoff_s=0.2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(link.run)
        await _until(lambda: model.link == "disconnected" and "Error" in model.link_detail)
        nursery.cancel_scope.cancel()
