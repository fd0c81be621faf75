"""The scanner actor against real ptys (PtyScanner) and real loopback TCP (TcpScanner).

Waits are bounded generously (slow CI) and nothing asserts on how long anything took: counts and
orders only. Time bounds on `at` use trio's clock, which is what the actor stamps.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from actors.config import ScannerConfig
from actors.scanner import Frame, FrameDecoder, ScannerActor
from domain.backoff import Backoff, Jitter
from domain.messages import DeviceLink, Scanned, StationInput, Tick
from simulator.scanner_sim import PtyScanner, TcpScanner
from supervisor.runtime import ChildSpec, EventBus
from supervisor.runtime.mailbox import Mailbox
from supervisor.runtime.supervisor import Supervisor
from tests.support.scanner_actors import WAIT_S, receive, receive_scans, running, serial_actor
from tests.support.waiting import until


def _inbox(capacity: int = 64) -> Mailbox[StationInput]:
    return Mailbox("S1.coordinator", capacity)


async def receive_link(inbox: Mailbox[StationInput], up: bool) -> DeviceLink:
    message = await receive(inbox)
    assert isinstance(message, DeviceLink), message
    assert message.device == "scanner"
    assert message.up is up
    return message


def tcp_actor(port: int, inbox: Mailbox[StationInput]) -> ScannerActor:
    return ScannerActor(ScannerConfig(kind="tcp", port=port), "S1", inbox)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyScanner]:
    """A serial scanner behind a stable path, as udev's /dev/serial/by-id/ names give."""
    scanner = PtyScanner(link_path=tmp_path / "scanner-S1", seed=3)
    yield scanner
    scanner.close()


# ---------------------------------------------------------------------------- frames, no device


def test_frames_end_at_cr_lf_or_crlf_empty_ones_are_skipped_and_parts_wait() -> None:
    d = FrameDecoder(max_frame=16)
    assert d.feed(b"OP01\rHY1\nHY2\r\n\r\n\n\rA\n\rB") == [Frame(b"OP01"), Frame(b"HY1"), Frame(b"HY2"),
                                                        Frame(b"A")]  # fmt: skip
    assert d.feed(b"C") == []  # a frame waits for its terminator, across chunks
    assert d.feed(b"\r") == [Frame(b"BC")]
    assert d.feed(b"\nD\r") == [Frame(b"D")]  # the LF of a CR LF split across chunks ends nothing
    assert d.feed(b"\x00\xff \x1b[0m\n") == [Frame(b"\x00\xff \x1b[0m")]  # any bytes, untouched


def test_an_over_long_frame_is_cut_and_its_rest_thrown_away_up_to_the_terminator() -> None:
    d = FrameDecoder(max_frame=8)
    assert d.feed(b"12345678\r") == [Frame(b"12345678")]  # exactly max_frame: whole
    assert d.feed(b"123456789\r") == [Frame(b"12345678", too_long=True)]
    assert d.feed(b"0123456789") == []  # cut, but reported only when the frame completes
    assert d.feed(b"abcdef" * 1000) == []  # the rest is not kept
    assert d.feed(b"xyz\r\nOK\n") == [Frame(b"01234567", too_long=True), Frame(b"OK")]
    with pytest.raises(ValueError, match="max_frame"):
        FrameDecoder(0)


async def test_a_badge_is_a_full_match_and_a_cut_frame_is_never_one() -> None:
    actor = ScannerActor(ScannerConfig(serial_port="/dev/null"), "S1", _inbox())
    badges = ["OP01", "OP0123456789ABCDEF"]
    labels = ["OP", "OP01 ", " OP01", "xOP01", "op01", "OP0123456789ABCDEFG", "OP01\x00", "HY00120000123"]
    for text in badges + labels:
        msg = actor.scanned(Frame(text.encode()), 1.5)
        assert msg == Scanned(text=text, badge=text in badges, at=1.5), text
    assert actor.scanned(Frame(b"OP01", too_long=True), 2.0) == Scanned("OP01", False, 2.0, too_long=True)
    assert actor.scanned(Frame(b"\xffOP\xfe"), 0.0).text == "\ufffdOP\ufffd"  # lenient, never an error

    custom = ScannerActor(ScannerConfig(serial_port="/dev/null", badge_pattern=r"B-\d{4}"), "S1", _inbox())
    assert custom.scanned(Frame(b"B-1234"), 0.0).badge
    assert not custom.scanned(Frame(b"B-12345"), 0.0).badge
    assert not custom.scanned(Frame(b"OP01"), 0.0).badge


async def test_a_config_no_scanner_can_use_fails_at_construction() -> None:
    bad_configs = [
        ScannerConfig(kind="usb", serial_port="/dev/x"),
        ScannerConfig(kind="serial"),
        ScannerConfig(kind="tcp", port=0),
        ScannerConfig(serial_port="/dev/x", max_frame=0),
    ]
    for bad in bad_configs:
        with pytest.raises(ValueError, match=r"S1\.scanner"):
            ScannerActor(bad, "S1", _inbox())
    with pytest.raises(re.error):
        ScannerActor(ScannerConfig(serial_port="/dev/x", badge_pattern="OP("), "S1", _inbox())


class _Line(trio.abc.ReceiveStream):
    """A scanner line in memory that stays up for `lasts` seconds (trio's clock), silent, then ends."""

    def __init__(self, lasts: float) -> None:
        self.lasts = lasts

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.sleep(self.lasts)
        return b""

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def test_backoff_doubles_to_its_cap_and_resets_only_after_a_lasting_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # What each open does: fail, open and end at once (a flapping device), stay up 5 s, stay up.
    plan = ["fail"] * 7 + ["flap", "flap", "lasts 5 s", "fail", "fail", "holds"]
    attempts: list[float] = []
    holding = trio.Event()

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[trio.abc.ReceiveStream]:
        attempts.append(trio.current_time())
        step = plan.pop(0)
        if step == "fail":
            raise OSError("no scanner")
        if step == "holds":
            holding.set()
        yield _Line({"flap": 0.0, "lasts 5 s": 5.0, "holds": math.inf}[step])

    inbox = _inbox()
    backoff = Backoff(initial_s=0.1, max_s=3.0, jitter=Jitter.NONE)  # (the steps themselves)
    actor = ScannerActor(ScannerConfig(serial_port="/dev/x"), "S1", inbox, opener=opener, backoff=backoff)
    async with running(actor):
        with trio.fail_after(WAIT_S * 10):
            await holding.wait()
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0, 3.0, 5.0 + 0.1, 0.2, 0.4])
        links: list[bool] = []
        while inbox.pending():
            message = inbox.receive_nowait()
            assert isinstance(message, DeviceLink), message
            links.append(message.up)
        assert links == [False, True, False, True, False, True, False, True]  # one down per outage
        assert (actor.opens, actor.open_failures) == (4, 9)


# ---------------------------------------------------------------------------- serial, on a real pty


async def test_serial_labels_badges_and_garbage_pass_as_data(pty: PtyScanner) -> None:
    inbox = _inbox()
    actor = serial_actor(pty.path, inbox)
    async with running(actor):
        before = trio.current_time()
        await pty.send_text("OP01")
        await pty.send_text("HY00120000123")
        await pty.send_text("https://hy.example/c?code=HY00120000124")
        await pty.send_text("OP01 ")  # not a full match: a label
        await pty.send_raw(b"\xff\xfeOP02\x00\x1b[31m\x11\x13\r\n")  # control bytes too (no XON/XOFF)
        await pty.send_text("钢瓶HY1")
        await pty.send_garbage(40)
        got = await receive_scans(inbox, 7)
        after = trio.current_time()
    assert [(m.text, m.badge, m.too_long) for m in got[:6]] == [
        ("OP01", True, False),
        ("HY00120000123", False, False),
        ("https://hy.example/c?code=HY00120000124", False, False),
        ("OP01 ", False, False),
        ("\ufffd\ufffdOP02\x00\x1b[31m\x11\x13", False, False),
        ("钢瓶HY1", False, False),
    ]
    garbage = got[6]
    assert not garbage.badge
    assert not garbage.too_long
    assert 0 < len(garbage.text) <= 40
    ats = [m.at for m in got]
    assert before <= ats[0]
    assert ats == sorted(ats)
    assert ats[-1] <= after
    assert actor.frames == 7
    assert actor.dropped == 0


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"], ids=["CR", "LF", "CRLF"])
async def test_serial_frames_end_at_any_terminator(tmp_path: Path, terminator: bytes) -> None:
    scanner = PtyScanner(terminator=terminator, link_path=tmp_path / "scanner")
    inbox = _inbox()
    try:
        async with running(serial_actor(scanner.path, inbox)):
            await scanner.send_text("OP01")
            await scanner.send_raw(b"HY00")  # one frame in two writes
            await trio.sleep(0.02)
            await scanner.send_raw(b"12" + terminator)
            await scanner.send_raw(b"A\rB\nC\r\nD\n\rE\r\r\n")  # a scanner set one way, then another
            got = await receive_scans(inbox, 7)
    finally:
        scanner.close()
    assert [(m.text, m.badge) for m in got] == [("OP01", True), ("HY0012", False)] + [
        (t, False) for t in "ABCDE"
    ]


async def test_serial_over_long_lines_are_cut_and_flagged_and_empty_frames_skipped(pty: PtyScanner) -> None:
    inbox = _inbox()
    async with running(serial_actor(pty.path, inbox, max_frame=64)):
        await pty.send_raw(b"\r\n\r\n\n\r\n")  # empty frames: nothing
        await pty.send_overlong(8192)  # more than the pty buffers: the actor must keep reading
        await pty.send_text("OP" + "1" * 100)  # a badge's beginning, too long: not a badge
        await pty.send_raw(b"9" * 64 + b"\r\n")  # exactly max_frame: whole
        await pty.send_text("号" * 30)  # 90 bytes: cut inside a character, decoded leniently
        await pty.send_garbage(200)
        await pty.send_text("HY2")
        got = await receive_scans(inbox, 6)
    assert [(m.text, m.badge, m.too_long) for m in got[:5]] == [
        ("9" * 64, False, True),
        ("OP" + "1" * 62, False, True),
        ("9" * 64, False, False),
        ("号" * 21 + "\ufffd", False, True),
        (got[4].text, False, True),  # the garbage line
    ]
    assert got[5] == Scanned("HY2", False, got[5].at)


async def test_serial_hang_up_then_replug_reports_down_once_then_up(pty: PtyScanner) -> None:
    inbox = _inbox()
    actor = serial_actor(pty.path, inbox)
    fds = open_fds()
    async with running(actor):
        await pty.send_text("HY1")
        assert (await receive_scans(inbox, 1))[0].text == "HY1"

        pty.hang_up()
        down = await receive_link(inbox, up=False)
        assert down.detail.startswith("hung up")
        await pty.send_text("LOST")  # unplugged: goes nowhere
        await until(lambda: actor.open_failures >= 2)  # retrying, without saying so again
        assert inbox.pending() == 0

        pty.plug_in()  # a new pty behind the same stable path
        up = await receive_link(inbox, up=True)
        assert up.at >= down.at
        await pty.send_text("OP01")
        await pty.send_text("HY2")
        assert [(m.text, m.badge) for m in await receive_scans(inbox, 2)] == [("OP01", True), ("HY2", False)]
        assert actor.opens == 2
        assert actor.link_up
    assert open_fds() == fds  # every port the actor opened is closed again, also on cancel


async def test_a_serial_port_missing_at_start_is_retried_with_backoff(tmp_path: Path) -> None:
    path = tmp_path / "by-id-scanner"
    inbox = _inbox()
    actor = serial_actor(path, inbox)
    async with running(actor):  # started all the same: a missing scanner does not hold up the floor
        down = await receive_link(inbox, up=False)
        assert "by-id-scanner" in down.detail
        await until(lambda: actor.open_failures >= 3)
        seen = actor.open_failures
        await trio.sleep(0.5)
        assert actor.open_failures - seen <= 5  # backing off (0.4 s, 0.8 s, ...), not a busy loop
        assert inbox.pending() == 0  # one DeviceLink per outage, not one per try

        scanner = PtyScanner(link_path=path)  # plugged in at last
        try:
            await receive_link(inbox, up=True)
            await scanner.send_text("HY1")
            assert (await receive_scans(inbox, 1))[0].text == "HY1"
        finally:
            scanner.close()


async def test_a_full_mailbox_drops_scans_without_stalling_and_delays_link_changes(pty: PtyScanner) -> None:
    inbox = _inbox(capacity=2)
    actor = serial_actor(pty.path, inbox, send_timeout_s=0.05, link_retry_s=0.05)
    async with running(actor):
        await pty.send_raw(b"".join(b"L%d\r\n" % i for i in range(6)))
        await until(lambda: actor.frames == 6 and actor.dropped == 4)  # L0, L1 fit; the rest dropped
        assert [m.text for m in await receive_scans(inbox, 2)] == ["L0", "L1"]
        await pty.send_text("L6")  # reading went on all along
        assert [m.text for m in await receive_scans(inbox, 1)] == ["L6"]

        inbox.send_nowait(Tick(0.0))
        inbox.send_nowait(Tick(0.0))  # full again
        pty.hang_up()
        await until(lambda: actor.open_failures >= 1 and actor.link_pending)
        assert isinstance(await receive(inbox), Tick)
        assert isinstance(await receive(inbox), Tick)
        await receive_link(inbox, up=False)  # delayed, not lost
        pty.plug_in()
        await receive_link(inbox, up=True)
        await pty.send_text("L7")
        assert [m.text for m in await receive_scans(inbox, 1)] == ["L7"]
    assert actor.dropped == 4


# ---------------------------------------------------------------------------- network scanners


async def test_a_tcp_scanner_hung_up_and_restarted_is_reconnected() -> None:
    inbox = _inbox()
    scanner = TcpScanner(seed=2)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(scanner.run)
        actor = tcp_actor(port, inbox)
        async with running(actor):
            with trio.fail_after(WAIT_S):
                await scanner.connected.wait()
            await scanner.send_text("OP01")
            await scanner.send_raw(b"HY1\rHY2\n\r\n")
            assert [(m.text, m.badge) for m in await receive_scans(inbox, 3)] == [
                ("OP01", True), ("HY1", False), ("HY2", False),
            ]  # fmt: skip

            await scanner.hang_up()  # the connection closed, the scanner still listening
            assert (await receive_link(inbox, up=False)).detail == "connection closed by the scanner"
            await receive_link(inbox, up=True)
            with trio.fail_after(WAIT_S):
                await scanner.connected.wait()
            await scanner.send_text("HY3")
            assert (await receive_scans(inbox, 1))[0].text == "HY3"

            await scanner.unplug()  # restarted: closed, then refusing for a while
            await receive_link(inbox, up=False)
            await until(lambda: actor.open_failures >= 2)
            assert inbox.pending() == 0
            await scanner.plug_in()
            await receive_link(inbox, up=True)
            with trio.fail_after(WAIT_S):
                await scanner.connected.wait()
            await scanner.send_garbage(30)
            await scanner.send_overlong(2000)
            await scanner.send_text("HY4")
            got = await receive_scans(inbox, 3)
            assert [(m.badge, m.too_long) for m in got[:2]] == [(False, False), (False, True)]
            assert got[2].text == "HY4"
            assert actor.opens == 3
        nursery.cancel_scope.cancel()


async def test_a_tcp_scanner_absent_at_start_is_connected_once_it_listens() -> None:
    inbox = _inbox()
    scanner = TcpScanner(seed=4)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(scanner.run)
        await scanner.unplug()  # its port known, nothing listening on it
        async with running(tcp_actor(port, inbox)):
            assert "connect" in (await receive_link(inbox, up=False)).detail
            await scanner.plug_in()
            await receive_link(inbox, up=True)
            with trio.fail_after(WAIT_S):
                await scanner.connected.wait()
            await scanner.send_text("OP07")
            got = (await receive_scans(inbox, 1))[0]
            assert (got.text, got.badge, got.too_long) == ("OP07", True, False)
        nursery.cancel_scope.cancel()


async def test_a_scanner_at_an_address_nobody_answers_is_lost_on_f4_and_told_to_the_station() -> None:
    """Issue 20: a scanner at a wrong address showed only "running" on F4 and no alarm."""
    with trio.socket.socket() as closed:  # a loopback port bound but never listening: refused
        await closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        inbox = _inbox()
        config = ScannerConfig(kind="tcp", host="127.0.0.1", port=port)
        actor = ScannerActor(config, "S1", inbox, link_retry_s=0.2)
        spec = ChildSpec("S1.scanner", actor.run)
        assert actor.link_state == "connecting"  # before its first try
        root = Supervisor("S1", [spec], bus=EventBus())
        async with trio.open_nursery() as nursery:
            await nursery.start(root.run)
            message = await receive(inbox)
            assert isinstance(message, DeviceLink)
            assert (message.device, message.up) == ("scanner", False)  # the station's scanner_lost alarm
            [view] = root.view()
            assert (view.health.state, view.health.link) == ("running", "lost")
            assert view.health.event().link == "lost"  # what the console's tree shows
            nursery.cancel_scope.cancel()
