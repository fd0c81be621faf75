"""The commissioning guide's dry run, run as a new engineer would follow it: its files written, its
commands run in their order in an empty folder (real processes: `fillfloor simulate-devices`,
`fillfloor serve`, the imports), the console's part (the pre-fill checks on F5) done over the
console protocol, the simulator's lines typed, and both stations fill."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.support.console_client import event, passed_check
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
GUIDES = {lang: ROOT / "docs" / "operations" / lang / "commissioning.md" for lang in ("zh", "en")}
_BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


class Block:
    def __init__(self, kind: str, info: str, text: str) -> None:
        self.kind = kind
        self.tags = dict(word.split("=", 1) for word in info.split())
        self.text = text

    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]


def _dry_run(lang: str) -> list[Block]:
    text = GUIDES[lang].read_text(encoding="utf-8")
    section = text[text.index("```toml file=") :]
    return [Block(*match.groups()) for match in _BLOCK.finditer(section)]


def test_both_languages_give_the_same_dry_run() -> None:
    def runnable(lang: str) -> list[tuple[str, str]]:
        return [(b.kind, b.text) for b in _dry_run(lang) if b.tags.get("terminal") != "console"]

    assert runnable("zh") == runnable("en")


def _fillfloor(line: str) -> list[str]:
    words = shlex.split(line)
    assert words[0] == "fillfloor", line
    return [sys.executable, "-m", "fillfloor.cli", *words[1:]]


async def _until(stream: trio.abc.ReceiveStream, marker: bytes) -> None:
    seen = b""
    with trio.fail_after(60):
        while marker not in seen:
            chunk = await stream.receive_some()
            assert chunk, f"the process ended before {marker!r}: {seen!r}"
            seen += chunk


async def test_the_dry_run_fills_on_both_simulated_stations(tmp_path: Path) -> None:
    blocks = _dry_run("en")
    # The guide's ports, moved to free ones (tests run side by side).
    ports = {"port = 5020": f"port = {free_port()}", "127.0.0.1:8765": f"127.0.0.1:{free_port()}"}
    console_url = "ws://" + ports["127.0.0.1:8765"]
    processes: dict[str, trio.Process] = {}
    token = ""
    ws: WebSocketConnection | None = None
    async with contextlib.AsyncExitStack() as stack:
        try:
            for block in blocks:
                text = block.text
                for old, new in ports.items():
                    text = text.replace(old, new)
                if "file" in block.tags:
                    (tmp_path / block.tags["file"]).write_text(text, encoding="utf-8")
                elif block.tags.get("terminal") == "console":
                    # The person at the console: a passing pre-fill check of every cylinder, on F5.
                    ws = await stack.enter_async_context(open_websocket_url(console_url))
                    await ws.send_message(json.dumps({"type": "hello", "v": 1, "token": token}))
                    with (tmp_path / "cylinders.csv").open(encoding="utf-8") as rows:
                        for i, row in enumerate(csv.DictReader(rows), start=1):
                            await passed_check(ws, i, row["code"])
                elif "terminal" in block.tags:
                    (line,) = block.lines()
                    process = await trio.lowlevel.open_process(
                        _fillfloor(line), cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    )  # fmt: skip
                    processes[block.tags["terminal"]] = process
                    assert process.stdout is not None
                    await _until(
                        process.stdout, b"ready" if block.tags["terminal"] == "devices" else b"console on"
                    )
                elif "stdin" in block.tags:
                    assert ws is not None
                    await _type_lines(processes[block.tags["stdin"]], ws, block.lines())
                elif block.kind == "sh":
                    if "verify-chain" in text:  # the end: the console closed, Ctrl-C in each terminal
                        await stack.aclose()
                        await _stop(processes)
                    for line in block.lines():
                        done = await trio.run_process(_fillfloor(line), cwd=tmp_path, capture_stdout=True,
                                                      capture_stderr=True, check=False)  # fmt: skip
                        assert done.returncode == 0, (line, done.stderr.decode())
                        if " user add " in f" {line} ":
                            token = done.stdout.decode().strip().splitlines()[-1]
                else:
                    raise AssertionError(f"a block of the guide this test cannot follow: {block.kind}")
            assert not processes, "the guide leaves processes running"
        finally:
            for process in processes.values():
                if process.returncode is None:
                    process.kill()
                    await process.wait()


async def _type_lines(devices: trio.Process, ws: WebSocketConnection, lines: list[str]) -> None:
    """The simulator's lines, typed; a badge or a label the floor did not read (its scanner opens
    its port in its own time) is typed again (opening flushes what came before)."""
    assert devices.stdin is not None
    filling: set[str] = set()
    for line in lines:
        command, station, *_ = line.split()
        expect = {"login": "operator.login", "scan": "scan"}.get(command)
        with trio.fail_after(60):
            while True:
                await devices.stdin.send_all(line.encode() + b"\n")
                if expect is None:
                    break
                # Long enough for an event that was merely late (the console runs below the floor,
                # and a loaded machine starves it): a badge typed again would log the operator out.
                with trio.move_on_after(5):
                    await event(ws, [], expect, station=station)
                    break
        if command == "scan":
            filling.add(station)
    while filling:  # both fills completed, in whatever order
        filling.discard((await event(ws, [], "fill.completed", within_s=60))["station"])


async def _stop(processes: dict[str, trio.Process]) -> None:
    for name in ("floor", "devices"):
        process = processes.pop(name)
        process.send_signal(signal.SIGINT)
        with trio.fail_after(30):
            await process.wait()
        assert process.returncode == 0, name
