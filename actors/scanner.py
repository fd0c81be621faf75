"""The scanner actor of one station: frames from a serial or network scanner, told to the coordinator.

Why it is built this way:
- Frames end in CR, LF or CR LF and may hold any bytes (a label is whatever the scanner read, a bad
  cable or a wrong baud rate makes garbage). They are decoded leniently (undecodable bytes replaced)
  and never interpreted here: device text is data. An over-long frame is cut at `max_frame` bytes,
  the rest up to the next terminator thrown away, and passed on marked `too_long`, so that the
  coordinator refuses it (`label.unreadable`) instead of a truncated label being taken for a code.
  Empty frames (the LF of a CR LF, a stray terminator) are not frames at all.
- A full match of `badge_pattern` is an operator badge, anything else a label: a badge cannot hide
  inside a longer frame, and a cut frame is never a badge.
- Serial scanners are opened by path (the stable /dev/serial/by-id/… name, so a re-plugged scanner
  is found again) with pyserial in a worker thread (opening a tty may block), then read on trio:
  VMIN=1 on the non-blocking fd and a `FdStream` over a dup of it (docs/architecture.md, "Serial"), so
  "no data yet" is EAGAIN and an empty read (or EIO) is a real hang-up. The port is locked
  exclusively: a second floor process on the same scanner would otherwise steal half of the scans.
- Network scanners are TCP servers: the actor connects as a client, with TCP keepalive, because a
  scanner is silent for hours and a powered-off one sends no FIN.
- Hang-up, unplug, EOF, refused or failing open: one `DeviceLink(up=False)` per outage, reopening
  with the floor's jittered backoff (capped at a few seconds: never a busy loop, never a crash loop), and
  `DeviceLink(up=True)` once open again. A connection that dies at once does not reset the backoff,
  so a flapping device is not reopened in a tight loop either.
- The coordinator's mailbox is never allowed to stall reading: a send waits at most
  `send_timeout_s`; once one has failed, later scans are offered without waiting until the mailbox
  takes one again (a stuck coordinator is its supervisor's business, not the scanner's). Scans that
  could not be delivered are counted in `dropped`. The link state is never dropped, only delayed:
  it is a desired state, offered again until the coordinator has it (the newest state wins).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import socket
import termios
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import serial
import trio
from attrs import frozen

from actors.config import ScannerConfig
from domain.backoff import Backoff
from domain.messages import DeviceLink, Scanned, StationInput
from supervisor.runtime.mailbox import Mailbox, MailboxFull

__all__ = ["REOPEN_BACKOFF", "Frame", "FrameDecoder", "Opener", "ScannerActor"]

_TERMINATOR = re.compile(rb"[\r\n]")
_CHUNK = 4096
# Reopening a scanner that went away: from 0.1 s, at most a few seconds apart.
REOPEN_BACKOFF = Backoff(initial_s=0.1, max_s=3.0)

# How the actor reaches its scanner: entered once per (re)connection, it yields the byte stream.
Opener = Callable[[], AbstractAsyncContextManager[trio.abc.ReceiveStream]]


@frozen
class Frame:
    """One frame as it came off the line, its terminator stripped; `too_long` if it was cut."""

    data: bytes
    too_long: bool = False


class FrameDecoder:
    """Bytes in, frames out. Keeps at most `max_frame` bytes, whatever the device sends.

    CR, LF and CR LF all end a frame (scanners are configured either way, and CR LF is just a
    frame followed by an empty one). A partial frame waits for the next chunk; a new connection
    gets a new decoder, so half a frame from before a hang-up is never glued to the next one.
    """

    def __init__(self, max_frame: int) -> None:
        if max_frame < 1:
            raise ValueError(f"max_frame must be at least 1, not {max_frame}")
        self.max_frame = max_frame
        self._buf = bytearray()
        self._cut = False  # the frame under way was over-long: its rest is being thrown away

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        start = 0
        for match in _TERMINATOR.finditer(data):
            self._take(data[start : match.start()])
            if self._cut:
                frames.append(Frame(bytes(self._buf), too_long=True))
            elif self._buf:
                frames.append(Frame(bytes(self._buf)))
            self._buf.clear()
            self._cut = False
            start = match.end()
        self._take(data[start:])
        return frames

    def _take(self, chunk: bytes) -> None:
        if self._cut or not chunk:
            return
        room = self.max_frame - len(self._buf)
        if len(chunk) > room:
            self._buf += chunk[:room]
            self._cut = True
        else:
            self._buf += chunk


class ScannerActor:
    """Reads one station's scanner and tells the station's coordinator (`Scanned`, `DeviceLink`).

    Run it as a supervised child: `await nursery.start(actor.run)`. `run` reports started once the
    first attempt to open the scanner is over (opened or not: a scanner that is not there is
    reported as `DeviceLink(up=False)` and retried, it does not hold up the floor), and runs until
    cancelled. Opening flushes the line, so scans sent before it are lost, as on a real port.
    """

    def __init__(
        self,
        config: ScannerConfig,
        station: str,
        inbox: Mailbox[StationInput],
        *,
        send_timeout_s: float = 0.5,
        connect_timeout_s: float = 2.0,
        backoff: Backoff = REOPEN_BACKOFF,
        link_retry_s: float = 0.5,
        opener: Opener | None = None,
    ) -> None:
        if config.kind not in ("serial", "tcp"):
            raise ValueError(f"{station}.scanner: kind must be serial or tcp, not {config.kind!r}")
        if config.kind == "serial" and not config.serial_port:
            raise ValueError(f"{station}.scanner: a serial scanner needs serial_port")
        if config.kind == "tcp" and not 0 < config.port < 65536:
            raise ValueError(f"{station}.scanner: a TCP scanner needs a port, not {config.port}")
        if config.max_frame < 1:
            raise ValueError(f"{station}.scanner: max_frame must be at least 1")
        self.config = config
        self.station = station
        self.name = f"{station}.scanner"
        self._inbox = inbox
        self._badge = re.compile(config.badge_pattern)  # once: a bad pattern fails here, not per scan
        self.send_timeout_s = send_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.backoff = backoff
        self._rng = random.Random()
        self.link_retry_s = link_retry_s
        # By default the scanner the config names (serial or TCP); tests may give their own line.
        self._opener: Opener = opener if opener is not None else self._open
        # Counters, for maintenance and tests.
        self.frames = 0  # frames read (delivered or not)
        self.dropped = 0  # scans the coordinator's mailbox did not take in time
        self.opens = 0  # successful opens
        self.open_failures = 0  # attempts that could not open the scanner
        # The link: as the actor sees it, and as the coordinator knows it (it assumes up at start).
        self._up = True
        self._told_up = True
        self._link_msg: DeviceLink | None = None  # the newest change not yet delivered
        self._congested = False  # a send timed out: offer without waiting until one is taken

    def __repr__(self) -> str:
        c = self.config
        where = c.serial_port if c.kind == "serial" else f"{c.host}:{c.port}"
        return f"<ScannerActor {self.name} {c.kind} {where}>"

    @property
    def link_up(self) -> bool:
        """Whether the scanner is open now (as the actor sees it)."""
        return self._up

    @property
    def link_state(self) -> str:
        """connecting (never open yet), up, or lost (the maintenance tree shows it)."""
        if not self._up:
            return "lost"
        return "up" if self.opens else "connecting"

    @property
    def link_pending(self) -> bool:
        """A link change the coordinator has not taken yet (its mailbox was full)."""
        return self._link_msg is not None

    def scanned(self, frame: Frame, at: float) -> Scanned:
        """The message for one frame: decoded leniently, a badge only if whole and fully matching."""
        text = frame.data.decode("utf-8", errors="replace")
        badge = not frame.too_long and self._badge.fullmatch(text) is not None
        return Scanned(text=text, badge=badge, at=at, too_long=frame.too_long)

    # ------------------------------------------------------------------ the loop

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        attempt = 0  # failures since the last connection that lasted
        while True:
            opened_at: float | None = None
            try:
                async with self._opener() as stream:
                    opened_at = trio.current_time()
                    self.opens += 1
                    if not started:
                        started = True
                        task_status.started()
                    await self._set_link(True)
                    await self._read(stream)
                detail = "connection closed by the scanner" if self.config.kind == "tcp" else "hung up"
            except (OSError, termios.error, trio.BrokenResourceError, trio.TooSlowError) as exc:
                # (pyserial's SerialException is an OSError; FdStream reports EIO as BrokenResource)
                if opened_at is None:
                    self.open_failures += 1
                detail = self._describe(exc)
            if not started:
                started = True
                task_status.started()
            await self._set_link(False, detail)
            if opened_at is not None and trio.current_time() - opened_at >= self.backoff.max_s:
                attempt = 0
            attempt += 1
            delay = self.backoff.delay(attempt, self._rng)
            await self._wait_offering_link(trio.current_time() + delay)

    async def _read(self, stream: trio.abc.ReceiveStream) -> None:
        """Frames until the scanner goes away (returns on EOF; errors propagate)."""
        decoder = FrameDecoder(self.config.max_frame)
        while True:
            data: bytes | None = None
            # While the coordinator lacks the link state, wake now and then to offer it again.
            with trio.move_on_after(self.link_retry_s if self.link_pending else math.inf):
                data = await stream.receive_some(_CHUNK)
            if data is None:
                await self._offer_link()
                continue
            if not data:
                return
            at = trio.current_time()  # every frame in this chunk completed when it arrived
            for frame in decoder.feed(data):
                self.frames += 1
                await self._offer_link()  # a pending link change goes before the scan
                if not await self._deliver(self.scanned(frame, at)):
                    self.dropped += 1

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[trio.abc.ReceiveStream]:
        if self.config.kind == "tcp":
            with trio.fail_after(self.connect_timeout_s):
                sock_stream = await trio.open_tcp_stream(self.config.host, self.config.port)
            async with sock_stream:
                _keepalive(sock_stream)
                yield sock_stream
            return
        # Not abandoned on cancel: the thread finishes and the port is closed below, never leaked.
        ser, fd = await trio.to_thread.run_sync(self._open_serial)
        try:
            fd_stream = trio.lowlevel.FdStream(fd)
        except BaseException:
            os.close(fd)
            ser.close()
            raise
        try:
            async with fd_stream:
                yield fd_stream
        finally:
            ser.close()

    def _open_serial(self) -> tuple[serial.Serial, int]:
        """In a worker thread: open the port, make an empty read mean hang-up, hand over a dup."""
        ser = serial.Serial(self.config.serial_port, self.config.baudrate, timeout=0, exclusive=True)
        try:
            fd = ser.fileno()
            attrs = termios.tcgetattr(fd)
            # pyserial leaves VMIN=0, where "no data yet" reads as b"" (a false end of file).
            attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            return ser, os.dup(fd)
        except BaseException:
            ser.close()
            raise

    def _describe(self, exc: BaseException) -> str:
        """The alarm's detail: what went wrong, never device text."""
        if isinstance(exc, trio.TooSlowError):
            return f"no connection to {self.config.host}:{self.config.port} within {self.connect_timeout_s} s"
        if isinstance(exc, trio.BrokenResourceError):
            cause = exc.__cause__
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else "broken"
            return f"hung up ({reason})"
        return f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ telling the coordinator

    async def _deliver(self, message: StationInput) -> bool:
        try:
            if self._congested:
                self._inbox.send_nowait(message)
            else:
                await self._inbox.send(message, timeout=self.send_timeout_s)
        except MailboxFull:
            self._congested = True
            return False
        self._congested = False
        return True

    async def _set_link(self, up: bool, detail: str = "") -> None:
        if up == self._up:
            return
        self._up = up
        # A change the coordinator never saw undone (down then up while it was stuck) is no change.
        changed = up != self._told_up
        self._link_msg = DeviceLink("scanner", up, trio.current_time(), detail) if changed else None
        await self._offer_link()

    async def _offer_link(self) -> None:
        message = self._link_msg
        if message is not None and await self._deliver(message):
            self._told_up = message.up
            self._link_msg = None

    async def _wait_offering_link(self, deadline: float) -> None:
        """Back off until `deadline`, offering a pending link change meanwhile."""
        while self.link_pending and trio.current_time() < deadline:
            await self._offer_link()
            if self.link_pending:
                await trio.sleep(min(self.link_retry_s, max(0.0, deadline - trio.current_time())))
        await trio.sleep_until(deadline)


def _keepalive(stream: trio.SocketStream) -> None:
    """Find a dead network scanner (powered off, cable cut) within about half a minute."""
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
        option = getattr(socket, name, None)
        if option is not None:
            with contextlib.suppress(OSError):
                stream.setsockopt(socket.IPPROTO_TCP, option, value)
