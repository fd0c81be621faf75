"""`fillfloor simulate-devices`: a floor's devices simulated at its config's own addresses, and
`fillfloor serve` filling on them as on real devices (real processes, loopback sockets and ptys)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
from sqlalchemy import select
from trio_websocket import open_websocket_url

from fillfloor.cli import main
from simulator.device_commands import CommandError, Meta, parse_line
from supervisor.storage import open_database
from supervisor.storage import schema as t
from tests.support.console_client import add_supervisor, passed_check
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
A, B = "HY00120000123", "HY00120000124"


def floor_config(tmp: Path, modbus_port: int, console_port: int = 8765, scanner_port: int = 0) -> Path:
    """S1 on Modbus TCP (scale and valve on one host:port, the scale's gross moved to an input
    register as a little-endian float); S2 and S3 on one RS-485 bus; serial scanners in `tmp`
    (S3's on TCP when `scanner_port` is given)."""
    s3_scanner = (f'kind = "tcp"\nport = {scanner_port}' if scanner_port else
                  f'serial_port = "{tmp / "scan3"}"')  # fmt: skip
    path = tmp / "fillfloor.toml"
    path.write_text(f"""
[unit]
code = "HY0012"
short_name = "衡阳燃气"
[console]
listen = "127.0.0.1:{console_port}"
[[station]]
id = "S1"
cutoff = "indicator"
[station.scale]
port = {modbus_port}
unit_id = 1
[station.scale.register_map]
gross = {{ kind = "input", address = 100, type = "f32", scale = 1, word_order = "little" }}
[station.valve]
port = {modbus_port}
unit_id = 2
[station.scanner]
serial_port = "{tmp / 'scan1'}"
[[station]]
id = "S2"
cutoff = "host"
[station.scale]
protocol = "rtu"
serial_port = "{tmp / 'bus0'}"
unit_id = 1
[station.valve]
protocol = "rtu"
serial_port = "{tmp / 'bus0'}"
unit_id = 2
[station.scanner]
serial_port = "{tmp / 'scan2'}"
[[station]]
id = "S3"
[station.scale]
protocol = "rtu"
serial_port = "{tmp / 'bus0'}"
unit_id = 3
[station.valve]
protocol = "rtu"
serial_port = "{tmp / 'bus0'}"
unit_id = 4
[station.scanner]
{s3_scanner}
""", encoding="utf-8")  # fmt: skip
    return path


async def _read_until(stream: trio.abc.ReceiveStream, marker: bytes, seen: bytearray) -> None:
    with trio.fail_after(30):
        while marker not in seen:
            chunk = await stream.receive_some()
            if not chunk:
                raise AssertionError(f"the process ended before {marker!r}: {bytes(seen)!r}")
            seen += chunk


def _floor_db(tmp_path: Path) -> str:
    """A floor database with cylinders A and B and operators OP01 and OP02, imported as a plant does."""
    db = f"sqlite:///{tmp_path / 'floor.db'}"
    cylinders = tmp_path / "cyl.csv"
    cylinders.write_text("code,owner,model,tare_kg,manufactured,last_inspection\n"
                         f"{A},HY0012,YSP35.5,15.2,2021-03-01,2025-03-01\n"
                         f"{B},HY0012,YSP35.5,15.2,2021-03-01,2025-03-01\n", encoding="utf-8")  # fmt: skip
    operators = tmp_path / "ops.csv"
    operators.write_text("id,name,certificate_expires\nOP01,张三,2099-01-01\nOP02,李四,2099-01-01\n",
                         encoding="utf-8")  # fmt: skip
    assert main(["registry", "import", str(cylinders), "--unit", "HY0012", "--db", db]) == 0
    assert main(["operators", "import", str(operators), "--db", db]) == 0
    return db


async def test_serve_fills_on_simulated_devices_driven_from_stdin(tmp_path: Path) -> None:
    db = _floor_db(tmp_path)
    token = await trio.to_thread.run_sync(add_supervisor, db)
    console_port = free_port()
    config = floor_config(tmp_path, free_port(), console_port)

    sim = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fillfloor.cli", "simulate-devices", "--config", str(config),
         "--flow-kg-s", "4"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    serve = None
    assert sim.stdin is not None
    assert sim.stdout is not None
    sim_out = bytearray()

    async def say(line: str) -> None:
        assert sim.stdin is not None
        await sim.stdin.send_all(line.encode() + b"\n")

    try:
        await _read_until(sim.stdout, b"ready", sim_out)
        for name in ("scan1", "scan2", "scan3", "bus0"):
            assert os.readlink(tmp_path / name).startswith("/dev/pts/")
        serve = await trio.lowlevel.open_process(
            [sys.executable, "-m", "fillfloor.cli", "serve", "--config", str(config), "--db", db],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert serve.stdout is not None
        await _read_until(serve.stdout, b"console on", bytearray())
        async with open_websocket_url(f"ws://127.0.0.1:{console_port}") as ws:
            await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
            for i, cylinder in enumerate((A, B), start=1):
                await passed_check(ws, i, cylinder)
            await say(f"place S1 {A} 15.5")
            await say(f"place S2 {B} 15.5")
            await say("login S1 OP01")
            await say("login S2 OP02")
            await say("bogus words")  # refused, and the session goes on
            await say("sleep 1.5")  # the scales settle
            await say(f"scan S1 {A}")
            await say(f"scan S2 {B}")
            completed: set[str] = set()
            with trio.fail_after(30):
                while completed != {"S1", "S2"}:
                    event = json.loads(await ws.get_message()).get("event", {})
                    if event.get("type") == "fill.completed":
                        completed.add(event["station"])
        serve.send_signal(signal.SIGTERM)
        sim.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            await serve.wait()
            await sim.wait()
        assert sim.returncode == 0
        while chunk := await sim.stdout.receive_some():
            sim_out += chunk
        assert sim.stderr is not None
        errors = (await sim.stderr.receive_some()).decode()
        assert "line 5: unknown command 'bogus'" in errors
    finally:
        for proc in (sim, serve):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
    # The ground truth, as it happened: both valves really opened.
    assert b"S1: valve opened" in sim_out
    assert b"S2: valve opened" in sim_out
    assert f"ok: place S1 {A} 15.5".encode() in sim_out
    for name in ("scan1", "scan2", "scan3", "bus0"):
        assert not (tmp_path / name).is_symlink()  # every link removed on the way out
    database = open_database(db)
    with database.reading() as conn:
        rows = conn.execute(select(t.fill.c.station, t.fill.c.outcome)).all()
    database.close()
    assert sorted(rows) == [("S1", "completed"), ("S2", "completed")]


def test_a_bad_config_exits_2_as_config_check_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = floor_config(tmp_path, 15020)
    config.write_text(config.read_text(encoding="utf-8").replace("unit_id = 4", "unit_id = 4\nspeed = 3"),
                      encoding="utf-8")  # fmt: skip
    assert main(["config", "check", str(config)]) == 2
    expected = capsys.readouterr().err
    assert "station 3 (S3).valve.speed: unknown key" in expected
    assert main(["simulate-devices", "--config", str(config)]) == 2
    assert capsys.readouterr().err == expected


def test_an_occupied_port_exits_2_naming_the_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulate-devices", "--config", str(floor_config(tmp_path, port))]) == 2
    err = capsys.readouterr().err
    assert f"S1.scale, S1.valve: cannot listen on 127.0.0.1:{port}: " in err
    assert "in use" in err
    assert not list(tmp_path.glob("scan*"))  # nothing left behind
    assert not (tmp_path / "bus0").exists()


def test_an_occupied_tcp_scanner_port_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = floor_config(tmp_path, free_port(), scanner_port=port)
        assert main(["simulate-devices", "--config", str(config)]) == 2
    assert f"S3.scanner: cannot listen on 127.0.0.1:{port}: " in capsys.readouterr().err
    assert not (tmp_path / "bus0").is_symlink()


def test_a_path_that_is_not_our_link_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bus0").write_text("a real file", encoding="utf-8")
    assert main(["simulate-devices", "--config", str(floor_config(tmp_path, free_port()))]) == 2
    assert f"S2.scale: {tmp_path / 'bus0'} exists and is not a link to a pty" in capsys.readouterr().err
    assert (tmp_path / "bus0").read_text(encoding="utf-8") == "a real file"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("place S1 HY00120000123", "line 7: place takes STATION CYLINDER GROSS_KG"),
        ("place S1 HY00120000123 heavy", "line 7 (place): gross_kg: must be a number ≥ 0, got 'heavy'"),
        ("remove S9", "line 7 (remove): station: no [[station]] with id 'S9'"),
        ("fault S1 scale stuck_open 2", "line 7 (fault): kind: stuck_open applies to a valve, not a scale"),
        ("fault S1 valve melt 2", "line 7 (fault): kind: must be one of"),
        ("fault S1 valve crash 2", "line 7: crash makes the floor's device actor raise"),
        ("dance S1", "line 7: unknown command 'dance'"),
        ("help me", "line 7: help takes nothing after it"),
    ],
)
def test_bad_command_lines_are_named(line: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_line(line, 7, {"S1"})
    assert message in str(raised.value)


def test_command_lines_become_scenario_steps() -> None:
    scan = parse_line("scan S1 https://qp.example.cn/c?code=HY00120000123 x\n", 1, {"S1"})
    assert scan is not None
    assert not isinstance(scan, Meta)
    assert scan.args == {"text": "https://qp.example.cn/c?code=HY00120000123 x"}
    place = parse_line("place S1 HY00120000123 21.4", 2, {"S1"})
    assert place is not None
    assert not isinstance(place, Meta)
    assert (place.do, place.station, str(place.args["gross_kg"])) == ("place", "S1", "21.4")
    assert parse_line("  # a comment", 3, {"S1"}) is None
    assert parse_line("STATUS", 4, {"S1"}) == Meta("status")


async def _fill_once(serve_cmd: list[str], console_port: int, token: str, cylinder: str,
                     check_id: int, say: Callable[[str], Awaitable[None]]) -> None:  # fmt: skip
    """Start `serve`, fill `cylinder` on S2 (its scale and valve on the simulated RS-485 bus),
    stop `serve`."""
    serve = await trio.lowlevel.open_process(
        serve_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        assert serve.stdout is not None
        await _read_until(serve.stdout, b"console on", bytearray())
        async with open_websocket_url(f"ws://127.0.0.1:{console_port}") as ws:
            await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
            await passed_check(ws, check_id, cylinder)
            await say(f"place S2 {cylinder} 15.5")
            await say("login S2 OP01")
            await say("sleep 1.5")  # the scale settles
            await say(f"scan S2 {cylinder}")
            with trio.fail_after(30):
                while True:
                    event = json.loads(await ws.get_message()).get("event", {})
                    if event.get("type") == "fill.completed" and event["station"] == "S2":
                        break
            await say("remove S2")
        serve.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            await serve.wait()
    finally:
        if serve.returncode is None:
            serve.kill()
            await serve.wait()


async def test_a_restarted_serve_fills_again_on_the_same_simulated_rtu_bus(tmp_path: Path) -> None:
    # simulate-devices is left running, as a plant's engineer leaves it while restarting the
    # floor: the second serve must reopen the RS-485 bus's pty and fill on it again.
    db = _floor_db(tmp_path)
    token = await trio.to_thread.run_sync(add_supervisor, db)
    console_port = free_port()
    config = floor_config(tmp_path, free_port(), console_port)
    # Even parity, as RS-485 indicators often use (a pty takes none: the floor's request for it is
    # what failed on a reopen).
    text = config.read_text(encoding="utf-8").replace(
        'protocol = "rtu"\n', 'protocol = "rtu"\nparity = "E"\n'
    )
    config.write_text(text, encoding="utf-8")
    sim = await trio.lowlevel.open_process(
        [sys.executable, "-m", "fillfloor.cli", "simulate-devices", "--config", str(config),
         "--flow-kg-s", "4"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip

    async def say(line: str) -> None:
        assert sim.stdin is not None
        await sim.stdin.send_all(line.encode() + b"\n")

    serve_cmd = [sys.executable, "-m", "fillfloor.cli", "serve", "--config", str(config), "--db", db]
    try:
        assert sim.stdout is not None
        await _read_until(sim.stdout, b"ready", bytearray())
        await _fill_once(serve_cmd, console_port, token, A, 1, say)
        await _fill_once(serve_cmd, console_port, token, B, 2, say)
    finally:
        if sim.returncode is None:
            sim.kill()
            await sim.wait()
    database = open_database(db)
    with database.reading() as conn:
        rows = conn.execute(select(t.fill.c.cylinder_code, t.fill.c.outcome)).all()
    database.close()
    assert sorted(rows) == [(A, "completed"), (B, "completed")]
