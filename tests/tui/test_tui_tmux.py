"""`fillfloor demo` as a newcomer meets it: in a real terminal (tmux), read off the screen.

The live simulated floor starts in its own process, the console opens on it, fills progress, a
check is recorded from the checker screen (not before every item was looked at), and `q` stops
everything with exit status 0.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

FILLFLOOR = str(Path(sys.executable).with_name("fillfloor"))


class Terminal:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "demo")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "demo", *(["-l"] if literal else []), *keys)

    def wait_for(self, what: Callable[[str], bool], timeout: float, why: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if what(text):
                return text
            time.sleep(0.25)
        raise AssertionError(f"{why}: not on screen within {timeout} s; the screen:\n{self.screen()}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"fillfloor-test-{tmp_path.name}")
    yield term
    term.tmux("kill-server")


def test_make_demo_shows_the_live_floor_records_a_check_and_quits_cleanly(
    terminal: Terminal, tmp_path: Path
) -> None:
    data, status = tmp_path / "data", tmp_path / "status"
    # (the pane stays open after the demo, for its last words to be read)
    command = f"{FILLFLOOR} demo --stations 2 --data-dir {data}; echo $? > {status}; sleep 60"
    terminal.tmux("new-session", "-d", "-s", "demo", "-x", "140", "-y", "40", command)
    terminal.tmux("resize-window", "-t", "demo", "-x", "140", "-y", "40")
    terminal.wait_for(lambda s: "已连接" in s and "S2" in s, 90, "the floor, connected")
    terminal.wait_for(lambda s: "充装中" in s, 60, "a fill under way")
    terminal.keys("F5")
    # The code field has the focus once "q quit" leaves the key bar (q is a letter of a code then).
    terminal.wait_for(lambda s: "钢瓶编码" in s and "q 退出" not in s, 10, "the checker screen")
    terminal.keys("HY00120001000", literal=True)
    terminal.keys("C-s")  # nothing checked yet: not sent, and the screen says what is still open
    terminal.wait_for(lambda s: "未提交" in s and "瓶阀与压盖紧固、标准阀" in s, 10, "the open items named")
    # Past the phase and the station to the first item, then each item looked at and passed, a
    # key at a time as a person types (a burst of keys in one read is not how people type).
    for key in ["Tab"] * 3:
        terminal.keys(key)
        time.sleep(0.1)
    for passed in range(1, 7):  # each pass seen on screen before the next key, however busy the machine
        terminal.keys("1")
        terminal.wait_for(lambda s, n=passed: s.count("[✓] 合格") == n, 10, f"item {passed} passed")
        terminal.keys("Down")
    terminal.keys("C-s")
    terminal.wait_for(lambda s: "已提交" in s, 15, "the check recorded")
    # The next cylinder is checked afresh: the code cleared, every item back to not checked.
    terminal.wait_for(lambda s: s.count("[ ] 未检") == 6, 10, "the items cleared")
    terminal.keys("F4")
    terminal.wait_for(lambda s: "S1.scale" in s and "运行" in s, 10, "the actor tree")
    terminal.keys("q")
    deadline = time.monotonic() + 60
    while not status.exists() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert status.exists(), f"the demo did not end after q; the screen:\n{terminal.screen()}"
    assert status.read_text().strip() == "0", terminal.screen()
    terminal.wait_for(lambda s: "充装记录链完整" in s, 10, "the chain checked after the floor stopped")
