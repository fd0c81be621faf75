"""Simulated scanners on a real pty pair and a real loopback TCP socket."""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from simulator.scanner_sim import PtyScanner, TcpScanner


class PtyReader:
    """The floor's end of the line: the slave path opened raw and non-blocking."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.buffer = b""

    async def read_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = await self.read_some()
            if not chunk:
                raise EOFError
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    async def read_some(self) -> bytes:
        while True:
            try:
                return os.read(self.fd, 65536)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.fd)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return b""  # Linux reports a hung-up pty as EIO
                raise

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
async def scanner(tmp_path: Path) -> AsyncIterator[PtyScanner]:
    sc = PtyScanner(link_path=tmp_path / "scanner-S1", seed=5)
    try:
        yield sc
    finally:
        sc.close()


async def test_pty_scanner_sends_labels_as_lines_byte_for_byte(scanner: PtyScanner) -> None:
    reader = PtyReader(scanner.path)
    try:
        await scanner.send_text("HY00120000123")
        await scanner.send_text("https://hy.example/c?code=HY00120000124")
        await scanner.send_raw(b"\x00\x1b[31m\r\n")  # control bytes pass untouched (raw line)
        assert await reader.read_line() == b"HY00120000123"
        assert await reader.read_line() == b"https://hy.example/c?code=HY00120000124"
        assert await reader.read_line() == b"\x00\x1b[31m"
    finally:
        reader.close()


async def test_pty_scanner_garbage_and_overlong_lines(scanner: PtyScanner) -> None:
    reader = PtyReader(scanner.path)
    try:
        async with trio.open_nursery() as nursery:
            # 8 KB is more than a pty buffers: the scanner waits for the reader, the loop does not.
            nursery.start_soon(scanner.send_overlong, 8192)
            assert await reader.read_line() == b"9" * 8192
        await scanner.send_garbage(40)
        line = await reader.read_line()
        assert len(line) == 40
        assert b"\n" not in line
        assert line != b"9" * 40
    finally:
        reader.close()


async def test_frozen_pty_scanner_is_silent_but_connected(scanner: PtyScanner) -> None:
    reader = PtyReader(scanner.path)
    try:
        scanner.frozen = True
        await scanner.send_text("LOST")
        scanner.frozen = False
        await scanner.send_text("SEEN")
        assert await reader.read_line() == b"SEEN"
    finally:
        reader.close()


async def test_pty_scanner_hang_up_and_replug_on_the_same_link(scanner: PtyScanner) -> None:
    reader = PtyReader(scanner.path)
    scanner.hang_up()
    assert not scanner.plugged_in
    with pytest.raises(EOFError):
        await reader.read_line()  # the floor sees the hang-up
    reader.close()
    await scanner.send_text("NOWHERE")  # unplugged: lost, not an error
    scanner.plug_in()
    assert os.readlink(scanner.path) == scanner.tty_path
    reader = PtyReader(scanner.path)  # the floor reopens the same path
    try:
        await scanner.send_text("BACK")
        assert await reader.read_line() == b"BACK"
    finally:
        reader.close()


def test_an_unplugged_pty_scanner_leaves_no_link_to_a_pty_another_gets(tmp_path: Path) -> None:
    # Found by the fault matrix: the link kept pointing at the closed /dev/pts/N; the kernel gave
    # that number to the next pty opened on the machine (another run's scanner), and the floor,
    # reopening the link, read that scanner's badges and labels (a login toggled, its own scans
    # lost). Unplugged, the path is gone, as udev removes /dev/serial/by-id/ links on unplug.
    link = tmp_path / "scanner-S1"
    scanner = PtyScanner(link_path=link)
    try:
        scanner.hang_up()
        other_master, other_slave = os.openpty()  # Linux hands out the lowest free number: often ours
        try:
            assert not link.is_symlink()
            with pytest.raises(FileNotFoundError):
                os.open(link, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        finally:
            os.close(other_master)
            os.close(other_slave)
        scanner.plug_in()
        assert os.readlink(link) == scanner.tty_path
    finally:
        scanner.close()
    assert not link.is_symlink()


async def test_tcp_scanner_sends_hangs_up_and_reopens_on_the_same_port() -> None:
    scanner = TcpScanner(seed=1)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(scanner.run)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await scanner.connected.wait()
        await scanner.send_text("HY00120000123")
        assert await stream.receive_some() == b"HY00120000123\r\n"

        await scanner.unplug()
        assert await stream.receive_some() == b""  # closed under the floor
        await stream.aclose()
        with pytest.raises(OSError, match="onnect"):
            await trio.open_tcp_stream("127.0.0.1", port)

        await scanner.plug_in()
        assert scanner.port == port
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await scanner.connected.wait()
        await scanner.send_garbage(10)
        data = await stream.receive_some()
        assert data.endswith(b"\r\n")
        assert len(data) == 12
        await stream.aclose()
        nursery.cancel_scope.cancel()
