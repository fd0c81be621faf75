"""Imports reach a running floor: `fillfloor registry import` and `fillfloor operators import` made
while `fillfloor serve` runs decide its scans within seconds, without a restart (a real serve
process, devices simulated over Modbus TCP and a serial line, a console on loopback)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from fillfloor.cli import main
from simulator.modbus_devices import open_station_devices
from simulator.scanner_sim import PtyScanner
from simulator.station_physics import SimulatedStation
from tests.support.console_client import add_supervisor, passed_check
from tests.support.ports import free_port
from tests.support.serve_config import one_station_config

ROOT = Path(__file__).resolve().parents[2]
A, B = "HY00120000123", "HY00120000124"
HEADER = "code,owner,model,tare_kg,manufactured,last_inspection,status\n"


def _row(code: str, status: str = "in_service") -> str:
    return f"{code},HY0012,YSP35.5,15.2,2021-03-01,2025-03-01,{status}\n"


async def _event(ws: WebSocketConnection, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The next floor event that `wanted` picks (the others are passed over), within 20 s."""
    with trio.fail_after(20):
        while True:
            event = json.loads(await ws.get_message()).get("event") or {}
            if wanted(event):
                return event


def _type(type_: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("type") == type_


async def _scanner_read(ws: WebSocketConnection, scanner: PtyScanner) -> None:
    """Scan a label with no code until the floor reads one: its scanner opens its port in its own
    time after the console is up (a refusal for an unreadable label, and nothing else, follows)."""
    with trio.fail_after(20):
        while True:
            await scanner.send_text("warm-up")
            with trio.move_on_after(0.5):
                await _event(ws, _type("scan"))
                return


async def _scan_judged(ws: WebSocketConnection, scanner: PtyScanner, code: str) -> dict[str, Any]:
    """Scan `code`: the refusal, or the station's going on to fill."""
    await scanner.send_text(code)
    return await _event(ws, lambda e: e.get("type") == "interlock.refused" or e.get("state") == "filling")


async def test_imports_while_serve_runs_decide_its_scans_without_a_restart(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'floor.db'}"
    cylinders, operators = tmp_path / "cyl.csv", tmp_path / "ops.csv"
    cylinders.write_text(HEADER + _row(B), encoding="utf-8")
    operators.write_text("id,name,certificate_expires\nOP01,张三,2099-01-01\n", encoding="utf-8")
    assert main(["registry", "import", str(cylinders), "--unit", "HY0012", "--db", db]) == 0
    assert main(["operators", "import", str(operators), "--db", db]) == 0
    token = await trio.to_thread.run_sync(add_supervisor, db)
    station = SimulatedStation("S1", flow_kg_s=3.0, valve_delay_ms=100, cutoff="host")
    scanner = PtyScanner(link_path=tmp_path / "scanner")
    console_port = free_port()
    async with open_station_devices(station, "tcp") as devices:
        assert devices.scale_address
        assert devices.valve_address
        config = tmp_path / "fillfloor.toml"
        text = one_station_config(console_port, devices.scale_address[1], devices.valve_address[1],
                                  tmp_path / "scanner")  # fmt: skip
        config.write_text(text, encoding="utf-8")
        serve = [sys.executable, "-m", "fillfloor.cli", "serve", "--config", str(config), "--db", db]
        proc = await trio.lowlevel.open_process(
            serve, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out = b""
            with trio.fail_after(60):
                while b"console on" not in out:
                    assert proc.stdout is not None
                    chunk = await proc.stdout.receive_some()
                    assert chunk, "fillfloor serve exited early"
                    out += chunk
            async with open_websocket_url(f"ws://127.0.0.1:{console_port}") as ws:
                await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
                # Before the imports: an unknown operator, an unknown cylinder, both refused.
                await _scanner_read(ws, scanner)
                await scanner.send_text("OP02")
                await _event(ws, lambda e: "operator.unknown" in e.get("reasons", ()))
                devices.place(A, 15.5)
                refused = await _scan_judged(ws, scanner, A)
                assert "cylinder.unknown" in refused["reasons"]
                devices.remove()

                # The imports, beside the running floor: A and OP02 added, B blocked by the unit.
                cylinders.write_text(HEADER + _row(A) + _row(B, "blocked"), encoding="utf-8")
                operators.write_text("id,name,certificate_expires\nOP02,李四,2099-01-01\n", encoding="utf-8")
                imports = [
                    ["registry", "import", str(cylinders), "--unit", "HY0012", "--db", db],
                    ["operators", "import", str(operators), "--db", db],
                ]
                for line in imports:
                    assert await trio.to_thread.run_sync(main, line) == 0
                archives = operators_seen = 0
                with trio.fail_after(10):  # polled every second
                    while archives < 2 or operators_seen < 1:
                        reloaded = await _event(ws, _type("registry.reloaded"))
                        archives += reloaded["archives"]
                        operators_seen += reloaded["operators"]

                # The blocked cylinder is refused now, OP02 is known ...
                devices.place(B, 15.5)
                refused = await _scan_judged(ws, scanner, B)
                assert refused.get("type") == "interlock.refused", refused
                assert "cylinder.blocked" in refused["reasons"]
                assert "operator.unknown" not in refused["reasons"]
                devices.remove()
                # ... and the cylinder that was unknown is checked and filled.
                devices.place(A, 15.5)
                await passed_check(ws, 1, A)
                await _event(ws, _type("check.recorded"))
                judged = await _scan_judged(ws, scanner, A)
                assert judged.get("state") == "filling", judged
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(30):
                await proc.wait()
            assert proc.returncode == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            scanner.close()
