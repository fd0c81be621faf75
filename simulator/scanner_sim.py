"""Simulated barcode scanners: one on a serial line (a pty pair) and one as a TCP server.

A serial scanner writes to the pty master; the floor opens the slave's path, as it would open
/dev/ttyUSB0. A scanner sends a label as text plus a terminator (CR LF by default, the factory
setting of most scanners), and here it can also send raw bytes, garbage and over-long lines, or be
unplugged (the reader sees a hang-up) and plugged in again. With `link_path` the scanner keeps a
symlink pointing at its current pty, like udev's /dev/serial/by-id/ names, so that the floor can
reopen the same path after a re-plug (a new pty gets a new number). While `frozen` the scanner is
silent but stays connected. `fault(kind, seconds)` acts out a scanner fault of docs/scenarios.md
("Faults") for its duration: the scenario runner's and `fillfloor simulate-devices`' way to do it.

All sending is async (trio): a full pty or socket buffer makes the sender wait, never the loop.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import tty
from pathlib import Path

import trio

from simulator.pty_links import point_link, remove_link

__all__ = ["PtyScanner", "TcpScanner", "garbage_bytes"]

DEFAULT_TERMINATOR = b"\r\n"


def garbage_bytes(rng: random.Random, n: int) -> bytes:
    """Random bytes with no terminator in them, so they arrive as one bad line when one follows."""
    return bytes(rng.choice([b for b in range(256) if b not in (0x0A, 0x0D)]) for _ in range(n))


class _Payloads:
    """What a scanner can send; subclasses deliver the bytes."""

    terminator: bytes
    frozen: bool
    _rng: random.Random

    async def _deliver(self, data: bytes) -> None:
        raise NotImplementedError

    async def _unplug(self) -> None:
        raise NotImplementedError

    async def _plug_in(self) -> None:
        raise NotImplementedError

    async def fault(self, kind: str, seconds: float) -> None:
        """Be unplugged (`disconnect`), silent (`freeze`) or send garbage and over-long lines
        (`garbage`) for `seconds`, then behave again."""
        if kind == "disconnect":
            await self._unplug()
            await trio.sleep(seconds)
            await self._plug_in()
        elif kind == "freeze":
            self.frozen = True
            await trio.sleep(seconds)
            self.frozen = False
        elif kind == "garbage":
            with trio.move_on_after(seconds):
                while True:
                    await self.send_garbage()
                    await self.send_overlong()
                    await trio.sleep(0.2)
        else:
            raise ValueError(f"a scanner cannot be {kind}")

    async def send_raw(self, data: bytes) -> None:
        if not self.frozen:
            await self._deliver(data)

    async def send_text(self, text: str) -> None:
        """A label read: its text (UTF-8) and the terminator."""
        await self.send_raw(text.encode("utf-8") + self.terminator)

    async def send_garbage(self, n: int = 64) -> None:
        """A line of random bytes, as a scanner with a wrong baud rate or a bad cable produces."""
        await self.send_raw(garbage_bytes(self._rng, n) + self.terminator)

    async def send_overlong(self, length: int = 8192) -> None:
        """One line far longer than any label."""
        await self.send_raw(b"9" * length + self.terminator)


class PtyScanner(_Payloads):
    """A serial scanner on a pty pair. Open `path` from the floor (pyserial or os.open)."""

    def __init__(
        self, *, terminator: bytes = DEFAULT_TERMINATOR, link_path: Path | None = None, seed: int = 0
    ) -> None:
        self.terminator = terminator
        self.frozen = False
        self._rng = random.Random(seed)
        self._link = link_path
        self._master: int | None = None
        self._slave: int | None = None
        self.plug_in()

    @property
    def path(self) -> str:
        """The path the floor opens: the stable link if there is one, else the pty slave itself."""
        if self._link is not None:
            return str(self._link)
        return self.tty_path

    @property
    def tty_path(self) -> str:
        if self._slave is None:
            raise RuntimeError("the scanner is unplugged")
        return os.ttyname(self._slave)

    @property
    def plugged_in(self) -> bool:
        return self._master is not None

    def plug_in(self) -> None:
        """Connect (again): a new pty pair; the link, if any, now points at it."""
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(master)  # no echo back to the scanner, no line editing of label bytes
        os.set_blocking(master, False)
        # Keeping the slave open too means bytes sent before the floor opens the port wait in the
        # pty rather than failing, as they would wait in a USB adapter's buffer.
        self._master, self._slave = master, slave
        if self._link is not None:
            point_link(self._link, os.ttyname(slave))

    def hang_up(self) -> None:
        """Unplug: close the pty, so a reader of the slave sees a hang-up (EIO or an empty read).
        The link goes too, as udev removes a /dev/serial/by-id/ link on unplug: left in place it
        would point at a pty number the kernel hands to the next pty opened on the machine, and a
        floor reopening the path would read someone else's scanner."""
        if self._link is not None:
            remove_link(self._link)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def close(self) -> None:
        self.hang_up()

    async def _unplug(self) -> None:
        self.hang_up()

    async def _plug_in(self) -> None:
        self.plug_in()

    async def _deliver(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            fd = self._master
            if fd is None:
                return  # unplugged: the scan goes nowhere
            try:
                sent = os.write(fd, view)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(fd)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return  # the other side is gone
                raise
            view = view[sent:]


class TcpScanner(_Payloads):
    """A network scanner in server mode: the floor connects to `host`:`port` and receives lines.

    `run()` serves until cancelled (start it with `nursery.start`, which returns the port).
    `unplug()` closes the listener and every connection; `plug_in()` listens again on the same port.
    """

    def __init__(
        self, *, terminator: bytes = DEFAULT_TERMINATOR, host: str = "127.0.0.1", port: int = 0, seed: int = 0
    ) -> None:
        self.terminator = terminator
        self.frozen = False
        self._rng = random.Random(seed)
        self._host = host
        self.port = port  # 0: a free port, chosen by `run`
        self._clients: set[trio.SocketStream] = set()
        self._nursery: trio.Nursery | None = None
        self._serving: trio.CancelScope | None = None
        self._stopped = trio.Event()
        self.connected = trio.Event()  # set when a client is connected (replaced on hang-up)

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await self._listen()
            task_status.started(self.port)
            await trio.sleep_forever()

    async def _listen(self) -> None:
        assert self._nursery is not None
        listeners = await trio.open_tcp_listeners(self.port, host=self._host)
        self.port = listeners[0].socket.getsockname()[1]
        self._serving = scope = trio.CancelScope()
        self._stopped = stopped = trio.Event()
        self._nursery.start_soon(self._serve, listeners, scope, stopped)

    async def _serve(
        self, listeners: list[trio.SocketListener], scope: trio.CancelScope, stopped: trio.Event
    ) -> None:
        try:
            with scope:
                await trio.serve_listeners(self._handle, listeners, handler_nursery=self._nursery)
        finally:
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()
            stopped.set()

    async def _handle(self, stream: trio.SocketStream) -> None:
        self._clients.add(stream)
        self.connected.set()
        try:
            # Scanners ignore what the host sends; reading only tells us when the host goes away.
            async for _ in stream:
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._clients.discard(stream)
            with contextlib.suppress(trio.ClosedResourceError):
                await stream.aclose()

    async def hang_up(self) -> None:
        """Close the current connections; the listener stays."""
        clients, self._clients = self._clients, set()
        self.connected = trio.Event()
        for stream in clients:
            await stream.aclose()

    async def unplug(self) -> None:
        """Close the listener and the connections: new connections are refused."""
        if self._serving is not None:
            self._serving.cancel()
            self._serving = None
            await self._stopped.wait()  # the listening socket is closed: plug_in can bind the port again
        await self.hang_up()

    async def plug_in(self) -> None:
        if self._serving is None:
            await self._listen()

    async def _unplug(self) -> None:
        await self.unplug()

    async def _plug_in(self) -> None:
        await self.plug_in()

    @property
    def clients(self) -> int:
        """How many hosts are connected now (a scan with none goes nowhere)."""
        return len(self._clients)

    async def _deliver(self, data: bytes) -> None:
        for stream in list(self._clients):
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._clients.discard(stream)
