"""The scanner actor: reads frames from a serial or a network scanner and tells the coordinator.

Frames end in CR, LF or CR LF and may hold any bytes: they are decoded leniently (undecodable
bytes replaced), never interpreted. A frame longer than `max_frame` is cut there, the rest up to
the next terminator thrown away, and passed on marked `too_long` (the coordinator refuses it as
unreadable). A full match of `badge_pattern` is an operator badge; anything else is a label.

Serial scanners are opened by path (use the stable /dev/serial/by-id/… name) with pyserial, then
read on trio with VMIN=1 on a non-blocking fd, so an empty read is a real hang-up (TECH_NOTES.md).
Network scanners are TCP servers the actor connects to. Unplugged, hung up or refused: the actor
says so (`DeviceLink(up=False)`) and reopens with backoff, and says when it is back.
"""

from __future__ import annotations

import contextlib
import os
import re
import termios
from collections.abc import AsyncIterator, Awaitable, Callable

import serial
import trio

from actors.device_link import Teller
from supervisor.config import ScannerConfig
from supervisor.station.messages import DeviceLink, Scanned

__all__ = ["FrameSplitter", "ScannerActor"]

_MAX_BACKOFF_S = 3.0


class FrameSplitter:
    """Bytes in, frames out: CR/LF/CRLF ends a frame; over-long frames are cut and flagged."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._discarding = False  # inside the rest of an over-long frame

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        frames: list[tuple[bytes, bool]] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._discarding:
                    self._discarding = False
                elif self._buf:
                    frames.append((bytes(self._buf), False))
                self._buf.clear()
            elif self._discarding:
                continue
            elif len(self._buf) >= self.max_frame:
                frames.append((bytes(self._buf), True))
                self._buf.clear()
                self._discarding = True
            else:
                self._buf.append(byte)
        return frames


class ScannerActor:
    def __init__(self, config: ScannerConfig, tell: Teller) -> None:
        self.config = config
        self._tell = tell
        self._badge = re.compile(config.badge_pattern)
        self.frames = 0
        self.lost = False

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        # Started once the port is open (or could not be opened): scans sent before the port is
        # open are lost on a real line too (opening flushes it), so the floor waits for the open.
        failures, started = 0, False
        while True:
            try:
                async with self._opened() as receive:
                    if not started:
                        started = True
                        task_status.started()
                    await self._read(receive)
                detail = "hung up"
            except OSError as exc:  # (pyserial's SerialException is one)
                detail = f"{type(exc).__name__}: {exc}"
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                detail = f"connection lost: {exc}"
            if not started:  # the first attempt failed: running all the same, trying again
                started = True
                task_status.started()
            if not self.lost:
                self.lost = True
                self._tell(DeviceLink("scanner", False, trio.current_time(), detail))
            failures += 1
            await trio.sleep(min(_MAX_BACKOFF_S, 0.1 * 2 ** min(failures, 6)))

    @contextlib.asynccontextmanager
    async def _opened(self) -> AsyncIterator[Callable[[], Awaitable[bytes]]]:
        """The scanner's connection, as a `receive()` that returns b"" on a hang-up."""
        if self.config.kind == "tcp":
            stream = await trio.open_tcp_stream(self.config.host, self.config.port)
            async with stream:
                yield stream.receive_some
            return
        ser = serial.Serial(self.config.serial_port, self.config.baudrate, timeout=0)
        try:
            fd = ser.fileno()
            attrs = termios.tcgetattr(fd)
            attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0  # b"" is a hang-up, not "no data"
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            os.set_blocking(fd, False)

            async def receive() -> bytes:
                while True:
                    try:
                        return os.read(fd, 1024)
                    except BlockingIOError:
                        await trio.lowlevel.wait_readable(fd)

            yield receive
        finally:
            with contextlib.suppress(OSError):
                ser.close()

    async def _read(self, receive: Callable[[], Awaitable[bytes]]) -> None:
        splitter = FrameSplitter(self.config.max_frame)
        if self.lost:  # opened again: the scanner is back
            self.lost = False
            self._tell(DeviceLink("scanner", True, trio.current_time()))
        while True:
            data = await receive()
            if not data:
                return
            for frame, too_long in splitter.feed(data):
                self.frames += 1
                text = frame.decode("utf-8", errors="replace")
                badge = not too_long and self._badge.fullmatch(text) is not None
                self._tell(Scanned(text, badge=badge, at=trio.current_time(), too_long=too_long))
