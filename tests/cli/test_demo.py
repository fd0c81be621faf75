"""`fillfloor demo` (what `make demo` runs): a live simulated floor on a fresh data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fillfloor.cli import main


def test_demo_fills_and_refuses_on_a_fresh_data_dir_and_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["demo", "--headless", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "[S1] 充装完成 HY00120000123：净重 14." in out
    assert "[S1] 拒绝充装 HY00120000124：超期未检" in out
    assert "充装记录链完整（1 条）" in out
    assert (data / "fillfloor.db").exists()
    assert (data / "demo-events.jsonl").read_text(encoding="utf-8").count('"fill.completed"') == 1
    assert main(["demo", "--headless", "--lang", "en", "--data-dir", str(data)]) == 0  # the same data again
    out = capsys.readouterr().out
    assert "inspection overdue" in out
    assert "fill chain intact (2 records)" in out


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # (a zombie has ended; its reaper may be slow)


def test_a_live_floor_whose_console_is_gone_stops_as_on_sigterm(tmp_path: Path) -> None:
    """`fillfloor demo` runs its floor in a session of its own (a Ctrl+C meant for the console must
    not reach it half-way). A console that dies without stopping it (killed, its terminal closed)
    must not leave the floor running unseen: the floor notices and stops as on SIGTERM."""
    data, log = tmp_path / "data", tmp_path / "floor.log"
    data.mkdir()
    floor = [sys.executable, "-m", "fillfloor.cli", "demo", "--serve-console", "127.0.0.1:0", "--ready-file",
             str(data / "demo-console.url"), "--data-dir", str(data), "--stations", "1"]  # fmt: skip
    # A stand-in console: starts the floor as `fillfloor demo` does, then dies at once.
    console = (
        "import os, subprocess, sys\n"
        f"floor = {floor!r} + ['--parent-pid', str(os.getpid())]\n"
        f"with open({str(log)!r}, 'wb') as log:\n"
        "    child = subprocess.Popen(floor, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)\n"
        "print(child.pid)\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", console], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(started.stdout)
    deadline = time.monotonic() + 120  # (its start, then a second's look, then its orderly stop)
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _running(pid):
        os.kill(pid, signal.SIGKILL)
    said = log.read_text(encoding="utf-8", errors="replace")
    assert not _running(pid), said[-2000:]
    assert "the console that started this floor is gone" in said
    assert "floor stopped (signal 15)" in said


def test_the_demo_keeps_its_data_apart_from_a_real_floors() -> None:
    from fillfloor.cli import build_parser
    from fillfloor.commands._db import database_location

    demo = build_parser().parse_args(["demo"])
    serve = build_parser().parse_args(["serve"])
    _db, serve_dir = database_location(serve, None)  # (serve without a [storage] of its own)
    assert Path(demo.data_dir) != Path(serve_dir)
    assert Path(demo.data_dir) == Path("data/demo")
