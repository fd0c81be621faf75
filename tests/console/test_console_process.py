"""The console server in its own process (what `fillfloor serve` runs): consoles see the floor and
command it through the pipe, many consoles arriving at once cost the floor a few snapshots, and the
process never outlives the floor nor takes it down when it dies."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import open_websocket_url

from simulator.in_process_floor import running_floor
from supervisor.console.bridge import ConsoleProcess
from supervisor.console.child import ChildSettings
from supervisor.console.in_process import InProcessAccess
from supervisor.floor import Floor
from supervisor.runtime.pipe import SERVICE_NICENESS, PipeClosed
from supervisor.storage.database import Database
from tests.support.console_client import command, event, hello, receive, user
from tests.support.waiting import until


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[tuple[Floor, Database]]:
    async with running_floor(tmp_path) as (floor, db, _physics):
        yield floor, db


async def test_a_console_sees_the_floor_and_commands_it_through_the_process(floor) -> None:  # type: ignore[no-untyped-def]
    the_floor, db = floor
    bridge = ConsoleProcess(InProcessAccess(the_floor, db), ChildSettings("127.0.0.1", 0))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(bridge.run)
        assert bridge.pid is not None
        assert bridge.pid != os.getpid()
        # Below the floor when CPU is short (a flood): the kernel runs the floor's decisions first.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, bridge.pid) == min(19, ours + SERVICE_NICENESS)
        token = await user(db, "王班长", "supervisor")
        async with open_websocket_url(f"ws://127.0.0.1:{port}") as ws:
            assert (await hello(ws, token))["user"] == "王班长"
            snap = (await receive(ws, "snapshot"))["snapshot"]
            assert [s["id"] for s in snap["stations"]] == ["S1"]
            passed: list[dict[str, Any]] = []
            assert (await command(ws, 1, "pause", passed, station="S1"))["ok"] is True
            await event(ws, passed, "station.state", station="S1", state="paused")
            assert (await command(ws, 2, "nope"))["code"] == "console.unknown_command"
        nursery.cancel_scope.cancel()


async def test_many_consoles_arriving_at_once_cost_the_floor_a_few_snapshots(floor) -> None:  # type: ignore[no-untyped-def]
    the_floor, db = floor
    access = InProcessAccess(the_floor, db)
    built = [0]
    snapshot_now = access.snapshot_now

    def counted() -> dict[str, Any]:
        built[0] += 1
        return snapshot_now()

    access.snapshot_now = counted  # type: ignore[method-assign]
    bridge = ConsoleProcess(access, ChildSettings("127.0.0.1", 0))
    tokens = [await user(db, f"viewer{i}", "viewer") for i in range(24)]
    async with trio.open_nursery() as nursery:
        port = await nursery.start(bridge.run)

        async def console(token: str) -> None:
            async with open_websocket_url(f"ws://127.0.0.1:{port}") as ws:
                await hello(ws, token)
                await receive(ws, "snapshot")

        async with trio.open_nursery() as consoles:
            for token in tokens:
                consoles.start_soon(console, token)
        nursery.cancel_scope.cancel()
    # Shared between the consoles that wanted one at the same time (within 0.25 s of each other:
    # how many that is depends on how the machine schedules the handshakes, the sharing does not).
    assert 1 <= built[0] < len(tokens)


async def test_a_console_process_that_dies_ends_its_service_not_the_floor(floor) -> None:  # type: ignore[no-untyped-def]
    the_floor, db = floor
    bridge = ConsoleProcess(InProcessAccess(the_floor, db), ChildSettings("127.0.0.1", 0))
    handled = the_floor.stations["S1"].coordinator.handled

    async def run_and_kill() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(bridge.run)
            assert bridge.pid is not None
            os.kill(bridge.pid, signal.SIGKILL)

    with pytest.raises(BaseExceptionGroup) as ended, trio.fail_after(20):  # (its supervisor starts anew)
        await run_and_kill()
    assert ended.value.subgroup(PipeClosed) is not None
    await until(lambda: the_floor.stations["S1"].coordinator.handled > handled)  # the floor went on


def test_a_port_in_use_is_said_by_the_process_and_raised() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        child = subprocess.Popen([sys.executable, "-m", "supervisor.console.child"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)  # fmt: skip
        out, _ = child.communicate(ChildSettings("127.0.0.1", port).to_json().encode() + b"\n", timeout=30)
    assert "in use" in json.loads(out.decode().splitlines()[0])["failed"]
    assert child.returncode == 2


def test_the_process_ends_when_the_floor_closes_its_pipe() -> None:
    child = subprocess.Popen([sys.executable, "-m", "supervisor.console.child"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write(ChildSettings("127.0.0.1", 0).to_json().encode() + b"\n")
    child.stdin.flush()
    assert "ready" in json.loads(child.stdout.readline())
    child.stdin.close()  # the floor stopped (or died: the kernel closes its end the same way)
    assert child.wait(timeout=30) == 0
    child.stdout.close()
