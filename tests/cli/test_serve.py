"""`fillfloor serve` as a plant runs it: a config file, a registry, real devices (simulated here over
Modbus TCP and a serial line), a console on loopback, the city platform (the reference one on
loopback), and SIGTERM closing the valve and stopping."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from sqlalchemy import select
from trio_websocket import open_websocket_url

from fillfloor.cli import main
from simulator.modbus_devices import open_station_devices
from simulator.scanner_sim import PtyScanner
from simulator.station_physics import SimulatedStation
from supervisor.storage import open_database
from supervisor.storage import schema as t
from tests.support.console_client import add_supervisor, passed_check
from tests.support.platform_env import platform_env
from tests.support.serve_config import one_station_config

ROOT = Path(__file__).resolve().parents[2]


async def test_serve_fills_on_real_devices_takes_a_console_and_stops_on_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'floor.db'}"
    cylinders = tmp_path / "cyl.csv"
    header = "code,owner,model,tare_kg,manufactured,last_inspection\n"
    rows = header + "HY00120000123,HY0012,YSP35.5,15.2,2021-03-01,2025-03-01\n"
    cylinders.write_text(rows, encoding="utf-8")
    operators = tmp_path / "ops.csv"
    operators.write_text("id,name,certificate_expires\nOP01,张三,2099-01-01\n", encoding="utf-8")
    assert main(["registry", "import", str(cylinders), "--unit", "HY0012", "--db", db]) == 0
    assert main(["operators", "import", str(operators), "--db", db]) == 0
    station = SimulatedStation("S1", flow_kg_s=3.0, valve_delay_ms=100, cutoff="host")
    scanner = PtyScanner(link_path=tmp_path / "scanner")
    async with (
        platform_env(f"sqlite:///{tmp_path / 'platform.db'}") as platform,
        open_station_devices(station, "tcp") as devices,
    ):
        assert devices.scale_address
        assert devices.valve_address
        with trio.socket.socket() as s:  # a free loopback port for the console
            await s.bind(("127.0.0.1", 0))
            console_port = s.getsockname()[1]
        text = one_station_config(console_port, devices.scale_address[1], devices.valve_address[1],
                                  tmp_path / "scanner", platform=platform.url)  # fmt: skip
        (tmp_path / "fillfloor.toml").write_text(text, encoding="utf-8")
        token = await trio.to_thread.run_sync(add_supervisor, db)
        journal = tmp_path / "events.jsonl"
        serve = [sys.executable, "-m", "fillfloor.cli", "serve", "--config", str(tmp_path / "fillfloor.toml"),
                 "--db", db, "--log-format", "json", "--event-file", str(journal)]  # fmt: skip
        env = {**os.environ, "FILLFLOOR_PLATFORM_KEY": platform.keys["HY0012"]}
        proc = await trio.lowlevel.open_process(
            serve, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        try:
            out = b""
            with trio.fail_after(60):  # until the floor and the console are up
                while b"console on" not in out:
                    assert proc.stdout is not None
                    chunk = await proc.stdout.receive_some()
                    if not chunk:
                        assert proc.stderr is not None
                        error = await proc.stderr.receive_some()
                        raise AssertionError(f"fillfloor serve exited early: {error!r}")
                    out += chunk
            # One floor per database: a second serve on it is refused at once, naming the first.
            with trio.fail_after(60):
                second = await trio.run_process(serve, cwd=ROOT, env=env, check=False, capture_stdout=True,
                                                capture_stderr=True)  # fmt: skip
            assert second.returncode == 2, second.stderr
            assert f"another fillfloor serve (pid {proc.pid})" in second.stderr.decode(), second.stderr
            async with open_websocket_url(f"ws://127.0.0.1:{console_port}") as ws:
                await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
                devices.place("HY00120000123", 15.5)
                await trio.sleep(1.5)
                await scanner.send_text("OP01")
                await passed_check(ws, 1, "HY00120000123")
                await trio.sleep(0.3)
                await scanner.send_text("HY00120000123")
                with trio.fail_after(30):
                    while True:
                        message = json.loads(await ws.get_message())
                        if message.get("event", {}).get("type") == "fill.completed":
                            break
                with trio.fail_after(10):  # the platform sync uploads it at once
                    while "fill" not in [kind for _rid, kind, _status in platform.events]:  # noqa: ASYNC110
                        await trio.sleep(0.05)
                # Checked after the fill (it may not leave without), then a fill that the signal
                # interrupts: the valve closes, the fill is recorded.
                await passed_check(ws, 3, "HY00120000123", "post")
                await trio.sleep(0.3)
                devices.remove()
                await trio.sleep(0.5)
                devices.place("HY00120000123", 15.5)
                await passed_check(ws, 2, "HY00120000123")
                await trio.sleep(1.5)
                await scanner.send_text("HY00120000123")
                with trio.fail_after(30):
                    while not station.valve_open:  # noqa: ASYNC110 - ground truth, in another thread
                        await trio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(30):
                assert proc.stdout is not None
                while (
                    chunk := await proc.stdout.receive_some()
                ):  # (read: a full pipe would stall its journal)
                    out += chunk
                await proc.wait()
            assert proc.returncode == 0
            # The journal: one JSON object a line on stdout for what happened, and every event in
            # the event file, which only its owner may read.
            logged = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
            fills = [e for e in logged if e["event"] == "fill.completed"]
            assert [(e["station"], e["level"]) for e in fills][:1] == [("S1", "info")]
            assert any(e["event"] == "station.state" and e["state"] == "filling" for e in logged)
            assert journal.stat().st_mode & 0o777 == 0o600
            types = {json.loads(line)["type"] for line in journal.read_text(encoding="utf-8").splitlines()}
            assert {"fill.completed", "station.weight", "check.recorded"} <= types
            assert not station.valve_view().permit  # closed on the way out
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            scanner.close()
    assert main(["verify-chain", "--db", db]) == 0, capsys.readouterr()
    database = open_database(db)
    with database.reading() as conn:
        outcomes = [r[0] for r in conn.execute(select(t.fill.c.outcome).order_by(t.fill.c.seq))]
    database.close()
    assert outcomes == ["completed", "interrupted"]


def test_a_console_port_in_use_ends_serve_at_once_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "fillfloor.toml"
        config.write_text(f"""
[unit]
code = "HY0012"
short_name = "衡阳燃气"
[console]
listen = "127.0.0.1:{port}"
[[station]]
id = "S1"
[station.scale]
host = "127.0.0.1"
port = 1
[station.valve]
host = "127.0.0.1"
port = 2
""", encoding="utf-8")  # fmt: skip
        assert main(["serve", "--config", str(config), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line, no traceback
    assert f"[console] listen = '127.0.0.1:{port}': Address already in use" in err


def test_a_database_out_of_reach_ends_serve_in_one_line_without_its_password(tmp_path: Path) -> None:
    import shutil

    config = tmp_path / "fillfloor.toml"
    shutil.copy(ROOT / "docs" / "fillfloor.example.toml", config)
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "fillfloor.cli", "serve", "--config", str(config),
             "--db", f"postgresql+psycopg://floor:s3cret@127.0.0.1:{port}/fillfloor"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert (
        f"cannot open the database postgresql+psycopg://floor:***@127.0.0.1:{port}/fillfloor" in done.stderr
    )
    assert "s3cret" not in done.stderr
