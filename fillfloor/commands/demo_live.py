"""The live demo of `fillfloor demo`: the simulated floor in one process, the console in this one.

Two processes, as on a plant (docs/architecture.md: the console is a separate process, so the floor keeps
running when a console closes). The floor process writes its console address to a ready file
once the console server listens (port 0: never a clash with something else on the machine); its
output goes to `demo-floor.log` in the data directory, not over the console's screen.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from fillfloor.commands._db import open_for
from supervisor.errors import BadInput
from supervisor.storage.users import add_user
from supervisor.storage.verify import verify_chain

__all__ = ["run_live", "serve_live_floor"]

_READY_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0

_TEXTS = {
    "zh": {
        "starting": "正在启动仿真充装站（{n} 个工位）… 日志：{log}",
        "open": "监控台：{url}（按 q 退出）",
        "failed": "仿真充装站未能启动，见日志 {log}：",
        "stopped": "仿真充装站已停止。充装记录链完整（{chain} 条）。",
        "broken": "充装记录链损坏：{problem}",
        "unclean": "仿真充装站未正常停止（退出码 {rc}），见日志 {log}",
    },
    "en": {
        "starting": "starting the simulated floor ({n} stations)… log: {log}",
        "open": "console: {url} (q quits)",
        "failed": "the simulated floor did not start, see {log}:",
        "stopped": "simulated floor stopped. Fill chain intact ({chain} records).",
        "broken": "fill chain BROKEN: {problem}",
        "unclean": "the simulated floor did not stop cleanly (exit {rc}), see {log}",
    },
}


def _demo_token(args: argparse.Namespace) -> str:
    """A supervisor's console user for this session only (names are never reused)."""
    db = open_for(args)
    try:
        with db.transaction() as conn:
            return add_user(conn, f"demo-{secrets.token_hex(3)}", "supervisor")
    finally:
        db.close()


def _wait_ready(child: subprocess.Popen[bytes], ready: Path) -> str | None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready.exists():
            return ready.read_text(encoding="utf-8").strip()
        if child.poll() is not None:
            return None
        time.sleep(0.1)
    return None


def _stop(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)  # valves closed first, fills under way recorded
    try:
        return child.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def _hang_up(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # (unwinds through the console, so the floor is stopped)


def run_live(args: argparse.Namespace) -> int:
    from fillfloor.commands.console_cmd import run_console

    t = _TEXTS[args.lang]
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    token = _demo_token(args)
    ready, log_path = data_dir / "demo-console.url", data_dir / "demo-floor.log"
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", "fillfloor.cli", "demo", "--serve-console", "127.0.0.1:0",
               "--ready-file", str(ready), "--data-dir", str(data_dir),
               "--stations", str(args.stations), "--parent-pid", str(os.getpid())]  # fmt: skip
    if args.db:
        command += ["--db", args.db]
    if args.events:
        command += ["--events", str(args.events)]
    print(t["starting"].format(n=args.stations, log=log_path), flush=True)
    with log_path.open("wb") as log:
        # Its own session: a Ctrl+C meant for the console never reaches the floor half-way.
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    # A closed terminal (SIGHUP) ends the demo as `q` does: the floor is stopped, not left behind.
    previous = signal.signal(signal.SIGHUP, _hang_up)
    try:
        url = _wait_ready(child, ready)
        if url is None:
            print(t["failed"].format(log=log_path), file=sys.stderr)
            print(log_path.read_text(encoding="utf-8", errors="replace")[-2000:], file=sys.stderr)
            return 1
        print(t["open"].format(url=url), flush=True)
        run_console(url, token, args.lang)
    finally:
        rc = _stop(child)
        signal.signal(signal.SIGHUP, previous)
    if rc != 0:
        print(t["unclean"].format(rc=rc, log=log_path), file=sys.stderr)
        return 1
    db = open_for(args)
    try:
        chain = verify_chain(db.engine)
    finally:
        db.close()
    print(t["stopped"].format(chain=chain.count) if chain.ok else t["broken"].format(problem=chain.problem))
    return 0 if chain.ok else 1


async def _stop_when_orphaned(parent_pid: int) -> None:
    """The console that started this floor is gone however it ended (killed, its terminal closed
    before it could stop us): stop as on SIGTERM, valves closed first and fills recorded, rather
    than run on unseen."""
    while True:  # (no event tells of a parent's end: its child is re-parented, which we look for)
        await trio.sleep(1.0)
        if os.getppid() != parent_pid:
            break
    print("fillfloor demo: the console that started this floor is gone", flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


def serve_live_floor(args: argparse.Namespace) -> int:
    """The floor process: the live demo scenario with a console server, until SIGTERM."""
    from simulator.live_demo import live_demo_scenario
    from simulator.runner import run_scenario
    from supervisor.console.in_process import InProcessAccess
    from supervisor.console.server import ConsoleServer
    from supervisor.devices import DeviceActorFactory
    from supervisor.runtime import run_until_signalled

    host, _, port_text = str(args.serve_console).rpartition(":")
    if not host or not port_text.isdigit():
        raise BadInput(f"--serve-console {args.serve_console}: HOST:PORT expected")
    data_dir = Path(args.data_dir)
    events = args.events or data_dir / "demo-events.jsonl"
    scenario = live_demo_scenario(args.stations)
    floors: list[Any] = []

    def write_ready(url: str) -> None:
        tmp = Path(f"{args.ready_file}.tmp")
        tmp.write_text(url + "\n", encoding="utf-8")
        os.replace(tmp, args.ready_file)  # whole or not at all: the console never reads half

    async def attach(floor: Any, db: Any, sync: Any,
                     task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:  # fmt: skip
        floors.append(floor)
        server = ConsoleServer(InProcessAccess(floor, db, sync), host=host, port=int(port_text))
        async with trio.open_nursery() as nursery:
            port = await nursery.start(server.run)
            if args.ready_file is not None:
                await trio.to_thread.run_sync(write_ready, f"ws://{host}:{port}")
            print(f"fillfloor demo: console on ws://{host}:{port}", flush=True)
            task_status.started()

    async def main(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with trio.open_nursery() as nursery:
            if args.parent_pid is not None:
                nursery.start_soon(_stop_when_orphaned, args.parent_pid)
            await run_scenario(
                scenario, events, args.db, DeviceActorFactory(), data_dir=data_dir, attach=attach
            )
            nursery.cancel_scope.cancel()

    def close_valves() -> None:
        for floor in floors:
            floor.close_valves()

    signum = trio.run(run_until_signalled, main, close_valves)
    print(f"fillfloor demo: floor stopped (signal {signum})", flush=True)
    return 0
