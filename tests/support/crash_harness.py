"""The crash harness (#9): a floor in real processes, its supervisor SIGKILLed at a seeded moment.

Three processes, as a plant runs them: the devices (`fillfloor simulate-devices`, whose valve keeps
its own watchdog and writes its ground truth to an events file, each line with its wall time), the
city platform (`fillfloor platform serve`) and the supervisor (`fillfloor serve`). A driver runs a
shift the way people do (cylinders placed, badge and labels scanned at the simulated devices, checks
through the console protocol, as check terminals send them) and, at a moment chosen by the seed,
SIGKILLs the supervisor:
- `filling`: while the valve is really open (ground truth), up to 2 s into the fill;
- `commit`: within 20 ms of a fill's or check's event, while its record is being committed;
- `upload`: 20-400 ms after a fill, while the sync uploads it;
- `idle`: with the scale empty, between cylinders.
Then `check_crash` restarts the supervisor on the same database and finds what the kill did.
Reproduce a run with `CRASH_SEED=<seed> pytest tests/sim/test_crash_safety.py -k one_seed -s`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import trio
from attrs import frozen
from sqlalchemy import create_engine, func, select
from trio_websocket import WebSocketConnection, open_websocket_url

from domain.checks import answered_in_full
from fillfloor.cli import main
from supervisor.storage import open_database
from supervisor.storage import schema as t
from supervisor.storage.users import add_user
from tests.support.ports import free_port

__all__ = ["MOMENTS", "CrashFloor", "CrashResult", "crash_run"]

ROOT = Path(__file__).resolve().parents[2]
UNIT = "HY0012"
MOMENTS = ("filling", "commit", "upload", "idle")
WATCHDOG_S = 0.5  # the valve's default watchdog period ([station.valve] watchdog_ms)
VALVE_DELAY_S = 0.05  # the simulated actuator's delay (--valve-delay-ms)
RECORD_TABLES = (t.fill, t.check_record, t.refusal, t.alarm)


@frozen
class CrashResult:
    """What one run found; every field is asserted on by `check_crash` before it is returned."""

    seed: int
    moment: str
    valve_open_at_kill: bool
    close_after_kill_s: float | None  # the valve's watchdog close after the kill (ground truth)
    records_before_kill: int
    records_after: int
    interrupted: int  # fills recorded as interrupted by the restart
    uploaded: int  # records the platform holds, each once


def _cli(*args: str) -> str:
    """A fillfloor command in this process; its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0, args
    return out.getvalue()


class _Proc:
    """A fillfloor process whose output is drained as it comes (a full pipe never stalls it)."""

    def __init__(self, proc: trio.Process, name: str) -> None:
        self.proc, self.name = proc, name
        self.out = bytearray()
        self.err = bytearray()
        self.lines: list[str] = []
        self._changed = trio.Event()

    async def drain(self) -> None:
        async def pump(stream: trio.abc.ReceiveStream | None, into: bytearray) -> None:
            assert stream is not None
            while chunk := await stream.receive_some():
                into += chunk
                self._changed.set()
                self._changed = trio.Event()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pump, self.proc.stdout, self.out)
            nursery.start_soon(pump, self.proc.stderr, self.err)

    async def wait_for(self, text: bytes, timeout: float = 60) -> None:
        with trio.fail_after(timeout):
            while text not in self.out:
                if self.proc.returncode is not None:
                    raise AssertionError(f"{self.name} exited: {bytes(self.err)!r}")
                with trio.move_on_after(0.2):
                    await self._changed.wait()


class CrashFloor:
    """One run's floor: its files, its three processes and a console."""

    def __init__(self, tmp: Path, nursery: trio.Nursery) -> None:
        self.tmp, self.nursery = tmp, nursery
        self.db = f"sqlite:///{tmp / 'floor.db'}"
        self.platform_db = f"sqlite:///{tmp / 'platform.db'}"
        self.secret = str(tmp / "platform.secret")
        self.events_file = tmp / "truth.jsonl"
        self.cylinders = [f"{UNIT}{n:07d}" for n in range(100, 112)]
        self.console_port = free_port()
        self.serve: _Proc | None = None
        self.sim: _Proc | None = None
        self.platform: _Proc | None = None
        self.token = ""

    # --- set-up -------------------------------------------------------------------------------
    async def start(self) -> None:
        await trio.to_thread.run_sync(self._prepare)
        self.platform = await self._spawn("platform", "platform", "serve", "--listen", "127.0.0.1:0",
                                          "--db", self.platform_db, "--secret-file", self.secret)  # fmt: skip
        await self.platform.wait_for(b"serving on ")
        url = bytes(self.platform.out).decode().split("serving on ", 1)[1].split()[0]
        self.config = self._write_config(url)
        self.sim = await self._spawn(
            "simulate-devices", "simulate-devices", "--config", str(self.config), "--flow-kg-s", "6",
            "--valve-delay-ms", str(VALVE_DELAY_S * 1000), "--events", str(self.events_file), stdin=True,
        )  # fmt: skip
        await self.sim.wait_for(b"ready")
        await self.start_serve()

    def _prepare(self) -> None:
        cylinders = self.tmp / "cyl.csv"
        rows = "".join(f"{c},{UNIT},YSP35.5,15.2,2021-03-01,2025-03-01\n" for c in self.cylinders)
        cylinders.write_text("code,owner,model,tare_kg,manufactured,last_inspection\n" + rows, "utf-8")
        operators = self.tmp / "ops.csv"
        operators.write_text("id,name,certificate_expires\nOP01,张三,2099-01-01\n", encoding="utf-8")
        _cli("registry", "import", str(cylinders), "--unit", UNIT, "--db", self.db)
        _cli("operators", "import", str(operators), "--db", self.db)
        self.key = _cli("platform", "unit", "add", UNIT, "--short-name", "衡阳燃气", "--db", self.platform_db,
                        "--secret-file", self.secret)  # fmt: skip
        database = open_database(self.db)
        try:
            with database.transaction() as conn:
                self.token = add_user(conn, "sup", "supervisor")
        finally:
            database.close()

    def _write_config(self, platform_url: str) -> Path:
        modbus = free_port()
        path = self.tmp / "fillfloor.toml"
        path.write_text(f"""
[unit]
code = "{UNIT}"
short_name = "衡阳燃气"
[console]
listen = "127.0.0.1:{self.console_port}"
[platform]
url = "{platform_url}"
sync_interval_s = 0.5
[[station]]
id = "S1"
cutoff = "host"
[station.scale]
port = {modbus}
unit_id = 1
[station.valve]
port = {modbus}
unit_id = 2
watchdog_ms = {int(WATCHDOG_S * 1000)}
[station.scanner]
serial_port = "{self.tmp / 'scan1'}"
""", encoding="utf-8")  # fmt: skip
        return path

    async def _spawn(self, name: str, *args: str, stdin: bool = False) -> _Proc:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "fillfloor.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env={**os.environ, "FILLFLOOR_PLATFORM_KEY": getattr(self, "key", "").strip()},
        )  # fmt: skip
        wrapped = _Proc(proc, name)
        self.nursery.start_soon(wrapped.drain)
        return wrapped

    async def start_serve(self) -> None:
        self.serve = await self._spawn("serve", "serve", "--config", str(self.config), "--db", self.db)
        await self.serve.wait_for(b"console on")

    async def stop(self) -> None:
        """Every process stopped; the simulator by SIGINT, so that it removes its links."""
        for proc, sig in (
            (self.serve, signal.SIGTERM),
            (self.sim, signal.SIGINT),
            (self.platform, signal.SIGTERM),
        ):
            if proc is None or proc.proc.returncode is not None:
                continue
            proc.proc.send_signal(sig)
            with trio.move_on_after(15):
                await proc.proc.wait()
            if proc.proc.returncode is None:
                proc.proc.kill()
                await proc.proc.wait()

    # --- people and devices -------------------------------------------------------------------
    async def say(self, line: str) -> None:
        assert self.sim is not None
        assert self.sim.proc.stdin is not None
        await self.sim.proc.stdin.send_all(line.encode() + b"\n")

    @contextlib.asynccontextmanager
    async def console(self) -> AsyncIterator[WebSocketConnection]:
        async with open_websocket_url(f"ws://127.0.0.1:{self.console_port}") as ws:
            await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": self.token}))
            yield ws

    def truth(self) -> list[dict[str, Any]]:
        """The devices' ground truth so far (each line with its wall time)."""
        if not self.events_file.exists():
            return []
        lines = self.events_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    # --- the database -------------------------------------------------------------------------
    def record_ids(self) -> set[str]:
        database = open_database(self.db)
        try:
            with database.reading() as conn:
                return {
                    rid
                    for table in RECORD_TABLES
                    for rid in conn.execute(select(table.c.record_id)).scalars()
                }
        finally:
            database.close()


class Shift:
    """The people of the shift, through the console and at the devices; `seen` calls back on every
    console event (the killer watches it)."""

    def __init__(self, floor: CrashFloor, on_event: Callable[[dict[str, Any]], None]) -> None:
        self.floor, self.on_event = floor, on_event
        self.next_cylinder = 0
        self._ids = 0

    async def run(self, ws: WebSocketConnection, fills: int) -> None:
        """`fills` cylinders through the station (or until cancelled by the kill)."""
        await self.floor.say("login S1 OP01")
        for _ in range(fills):
            code = self.floor.cylinders[self.next_cylinder]
            self.next_cylinder += 1
            await self.floor.say(f"place S1 {code} 15.5")
            await self._command(ws, "check", cylinder=code, phase="pre", result="pass",
                                items=answered_in_full("pre", True, {}))  # fmt: skip
            await self._until(ws, "check.recorded")
            await trio.sleep(1.2)  # the reading settles
            await self.floor.say(f"scan S1 {code}")
            event = await self._until(ws, "fill.completed", "fill.aborted", "interlock.refused", timeout=30)
            assert event["type"] == "fill.completed", event
            await self._command(ws, "check", cylinder=code, phase="post", result="pass",
                                items=answered_in_full("post", True, {}))  # fmt: skip
            await self._until(ws, "check.recorded")
            await self.floor.say("remove S1")
            await self._until(ws, "station.state", state="idle")
            self.on_event({"type": "shift.idle"})

    async def _command(self, ws: WebSocketConnection, name: str, **args: Any) -> None:
        self._ids += 1
        await ws.send_message(json.dumps({"type": "command", "id": self._ids, "command": name, "args": args}))

    async def _until(
        self, ws: WebSocketConnection, *types: str, timeout: float = 15, **fields: Any
    ) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while True:
                message = json.loads(await ws.get_message())
                event = message.get("event") if message.get("type") == "event" else None
                if event is None:
                    continue
                self.on_event(event)
                if event["type"] in types and all(event.get(k) == v for k, v in fields.items()):
                    return dict(event)


async def crash_run(tmp: Path, seed: int, moment: str | None = None) -> CrashResult:
    """One seeded run: a shift, the kill at the seed's moment, the restart and every check."""
    rng = random.Random(seed)
    moment = moment or rng.choice(MOMENTS)
    occurrence = rng.randint(1, 2)  # the first or second such moment of the shift
    delay = {"filling": rng.uniform(0.0, 2.0), "commit": rng.uniform(0.0, 0.02),
             "upload": rng.uniform(0.02, 0.4), "idle": rng.uniform(0.0, 0.5)}[moment]  # fmt: skip
    trigger = {"filling": "sim.valve.open", "commit": "check.recorded", "upload": "fill.completed",
               "idle": "shift.idle"}[moment]  # fmt: skip
    async with trio.open_nursery() as nursery:
        floor = CrashFloor(tmp, nursery)
        try:
            await floor.start()
            result = await _shift_kill_restart(floor, seed, moment, trigger, occurrence, delay)
        finally:
            with trio.CancelScope(shield=True):
                await floor.stop()
            nursery.cancel_scope.cancel()
    return result


async def _shift_kill_restart(floor: CrashFloor, seed: int, moment: str, trigger: str, occurrence: int,
                              delay: float) -> CrashResult:  # fmt: skip
    fired = trio.Event()
    count = 0

    def on_event(event: dict[str, Any]) -> None:
        nonlocal count
        if event["type"] == trigger:
            count += 1
            if count == occurrence:
                fired.set()

    async def valve_watch() -> None:  # the ground truth, as the simulator prints it
        assert floor.sim is not None
        seen = 0
        while True:
            opened = floor.sim.out.count(b"S1: valve opened")
            if opened > seen:
                seen = opened
                on_event({"type": "sim.valve.open"})
            await trio.sleep(0.01)

    assert floor.serve is not None
    async with floor.console() as ws, trio.open_nursery() as nursery:
        shift = Shift(floor, on_event)
        nursery.start_soon(shift.run, ws, 6)
        nursery.start_soon(valve_watch)
        with trio.fail_after(90):
            await fired.wait()
        await trio.sleep(delay)
        before = await trio.to_thread.run_sync(floor.record_ids)  # committed before the kill
        nursery.cancel_scope.cancel()  # (the shift stops with the kill, not at a checkpoint before)
        kill_wall = time.time()
        floor.serve.proc.send_signal(signal.SIGKILL)
    await floor.serve.proc.wait()
    return await check_crash(floor, seed, moment, kill_wall, before)


async def check_crash(
    floor: CrashFloor, seed: int, moment: str, kill_wall: float, before: set[str]
) -> CrashResult:
    """After the kill: the valve closed by its own watchdog, then the restart lost nothing, recorded
    the fill under way as interrupted, kept the chain, and the platform got each record once."""
    await trio.sleep(WATCHDOG_S + VALVE_DELAY_S + 1.0)  # more than the watchdog needs ...
    truth = await trio.to_thread.run_sync(floor.truth)
    valves = [e for e in truth if e["type"] == "sim.valve"]
    with trio.move_on_after(10):  # ... on an idle machine: a starved simulator writes its close later
        while valves and valves[-1]["open"] and valves[-1]["wall"] <= kill_wall:
            await trio.sleep(0.1)
            truth = await trio.to_thread.run_sync(floor.truth)
            valves = [e for e in truth if e["type"] == "sim.valve"]
    at_kill = [e for e in valves if e["wall"] <= kill_wall]
    open_at_kill = bool(at_kill and at_kill[-1]["open"])
    after = [e for e in valves if e["wall"] > kill_wall]
    close_s = None
    if open_at_kill:
        assert after, "the valve stayed open after the supervisor was killed"
        assert not after[0]["open"]
        close_s = after[0]["wall"] - kill_wall
    assert not any(e["open"] for e in after), "a valve opened with no supervisor"
    left_open = await trio.to_thread.run_sync(_open_markers, floor.db)
    if open_at_kill:  # the valve opened only once its fill's marker was durable
        assert len(left_open) == 1, left_open

    await floor.start_serve()
    # The station recovers: one more fill, with the cylinder left on the scale taken off first.
    async with floor.console() as ws:
        await floor.say("remove S1")
        await trio.sleep(0.5)
        shift = Shift(floor, lambda _event: None)
        shift.next_cylinder = 8
        await shift.run(ws, 1)
    database_url = floor.db
    await _wait_drained(database_url)
    assert floor.serve is not None
    floor.serve.proc.send_signal(signal.SIGTERM)
    with trio.fail_after(30):
        await floor.serve.proc.wait()

    after_ids = await trio.to_thread.run_sync(floor.record_ids)
    lost = before - after_ids
    assert not lost, f"records committed before the kill are gone: {sorted(lost)}"
    fills = await trio.to_thread.run_sync(_fills, database_url)
    interrupted = [rid for rid, outcome in fills.items() if outcome == "interrupted"]
    assert sorted(interrupted) == sorted(left_open), (interrupted, left_open)
    assert await trio.to_thread.run_sync(_open_markers, database_url) == set()
    opened = sum(
        1 for e in await trio.to_thread.run_sync(floor.truth) if e["type"] == "sim.valve" and e["open"]
    )
    assert opened <= len(fills), f"{opened} valve openings, {len(fills)} fill records"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["verify-chain", "--db", database_url]) == 0, out.getvalue()
    uploaded = await trio.to_thread.run_sync(_platform_holds_each_once, database_url, floor.platform_db)
    return CrashResult(
        seed, moment, open_at_kill, close_s, len(before), len(after_ids), len(interrupted), uploaded
    )


def _open_markers(db_url: str) -> set[str]:
    database = open_database(db_url)
    try:
        with database.reading() as conn:
            return set(conn.execute(select(t.fill_open.c.record_id)).scalars())
    finally:
        database.close()


def _fills(db_url: str) -> dict[str, str]:
    database = open_database(db_url)
    try:
        with database.reading() as conn:
            rows = conn.execute(select(t.fill.c.record_id, t.fill.c.outcome)).all()
            return {row[0]: row[1] for row in rows}
    finally:
        database.close()


async def _wait_drained(db_url: str, timeout: float = 30) -> None:
    """Until the outbox holds nothing unsent (the restarted sync resumed and finished)."""

    def pending() -> tuple[int, int]:
        database = open_database(db_url)
        try:
            with database.reading() as conn:
                unsent = conn.execute(select(func.count()).select_from(t.outbox).where(
                    t.outbox.c.sent_at.is_(None), t.outbox.c.dead_letter.is_(None))).scalar_one()  # fmt: skip
                dead = conn.execute(select(func.count()).select_from(t.outbox).where(
                    t.outbox.c.dead_letter.is_not(None))).scalar_one()  # fmt: skip
                return unsent, dead
        finally:
            database.close()

    with trio.fail_after(timeout):
        while True:
            unsent, dead = await trio.to_thread.run_sync(pending)
            assert dead == 0, "the platform refused records"
            if unsent == 0:
                return
            await trio.sleep(0.2)


def _platform_holds_each_once(floor_db: str, platform_db: str) -> int:
    from platform_server.schema import record as platform_record

    floor = open_database(floor_db)
    try:
        with floor.reading() as conn:
            queued = set(conn.execute(select(t.outbox.c.record_id)).scalars())
    finally:
        floor.close()
    platform = create_engine(platform_db)  # read as it is: no floor migration on the platform's file
    try:
        with platform.connect() as conn:
            query = select(platform_record.c.record_id, func.count()).group_by(platform_record.c.record_id)
            counts: dict[str, int] = {row[0]: row[1] for row in conn.execute(query).all()}
    finally:
        platform.dispose()
    assert set(counts) == queued, (queued - set(counts), set(counts) - queued)
    assert all(n == 1 for n in counts.values())
    return len(counts)
