"""Fuzzing what a scanner reads: any bytes on the line, in any chunks, become frames or nothing; any
frame becomes a code or a refusal with a reason code (`label.unreadable`, `label.foreign_unit`, ...),
never an exception, never the coordinator's fail-closed `internal.error`.

Many examples against the label rule, the frame decoder and the station core; a few streams of
random bytes through a real pty to a running scanner actor.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors.scanner import Frame, FrameDecoder
from domain.labels import LabelRule, parse_label
from domain.messages import Scanned, StationInput
from domain.reasons import Reason
from simulator.model_rig import Rig
from simulator.scanner_sim import PtyScanner
from supervisor.runtime.mailbox import Mailbox
from tests.support.scanner_actors import receive_scans, running, serial_actor
from tests.support.strategies import UNIT, chunked, examples, label_rules, label_texts, scanner_streams

LABEL_REASONS = {Reason.LABEL_UNREADABLE, Reason.LABEL_FOREIGN_UNIT}


@settings(max_examples=examples(1000))
@given(label_texts | st.binary() | scanner_streams, label_rules)
@example("https://[::1/c?code=HY0012345", LabelRule(UNIT))
@example(b"\xff\xfeHY00120000123", LabelRule(UNIT))
def test_any_label_is_a_code_of_this_unit_or_a_reason(raw: str | bytes, rule: LabelRule) -> None:
    result = parse_label(raw, rule)
    assert result.raw.isprintable()
    assert len(result.raw) <= 300
    assert (result.code is None) <= (result.reason == Reason.LABEL_UNREADABLE)
    assert result.reason is None or result.reason in LABEL_REASONS
    if result.code is not None:
        assert re.fullmatch(rule.code_pattern, result.code)
        assert result.code.startswith(rule.unit_code) == (result.reason is None)
        assert result.code != rule.unit_code or result.reason is not None


def lines_of(stream: bytes, max_frame: int) -> list[Frame]:
    """The frames a line of bytes holds, written from the scanner contract (an oracle)."""
    *complete, _rest = re.split(rb"[\r\n]", stream)
    return [Frame(line[:max_frame], too_long=len(line) > max_frame) for line in complete if line]


@settings(max_examples=examples(500))
@given(scanner_streams.flatmap(lambda s: st.tuples(st.just(s), chunked(s))), st.integers(1, 80))
def test_any_bytes_in_any_chunks_are_the_frames_the_line_holds(
    stream_and_chunks: tuple[bytes, list[bytes]], max_frame: int
) -> None:
    stream, chunks = stream_and_chunks
    decoder = FrameDecoder(max_frame)
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    assert frames == lines_of(stream, max_frame)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.tuples(label_texts | st.binary().map(lambda b: b.decode("utf-8", "replace")),
                          st.booleans()), min_size=1, max_size=4))  # fmt: skip
def test_any_scan_at_a_station_is_refused_with_reasons_or_verified_never_an_internal_error(
    scans: list[tuple[str, bool]],
) -> None:
    rig = Rig()
    rig.login()
    rig.place(15.5)
    rig.step(1.0)
    for text, too_long in scans:
        before = len(rig.refusals())
        rig.scan(text, too_long=too_long)
        rig.step(0.1)
        assert "internal" not in rig.core.faults, rig.core.faults
        label = parse_label(text, rig.ctx.label_rule)
        if too_long or label.reason is not None:
            refusal = rig.refusals()[before]
            expected = Reason.LABEL_UNREADABLE if too_long else label.reason
            assert str(expected) in refusal
        rig.sim.remove()
        rig.step(0.5)
        rig.place(15.5)
        rig.step(1.0)
    assert not rig.opened_for  # (and, with no pre-fill check on record, nothing was filled)


@settings(max_examples=examples(12), deadline=None)
@given(scanner_streams, st.integers(16, 128))
@example(b"\x00\xff" * 3000 + b"\r\n\r\n\x1b[2J\x11\x13", 16)
async def test_any_bytes_on_a_real_serial_line_reach_the_station_as_frames_and_the_scanner_lives_on(
    stream: bytes, max_frame: int
) -> None:
    sentinel = b"HY00129999999"
    expected = lines_of(stream + b"\r" + sentinel + b"\r\n", max_frame)
    with tempfile.TemporaryDirectory() as tmp:
        scanner = PtyScanner(link_path=Path(tmp) / "scanner")
        try:
            inbox: Mailbox[StationInput] = Mailbox("S1.coordinator", len(expected) + 8)
            actor = serial_actor(scanner.path, inbox, max_frame=max_frame)
            async with running(actor):
                await scanner.send_raw(stream + b"\r")
                await scanner.send_raw(sentinel + b"\r\n")
                got = await receive_scans(inbox, len(expected))
                assert actor.link_up
        finally:
            scanner.close()
    assert [(m.text, m.too_long) for m in got] == [
        (f.data.decode("utf-8", errors="replace"), f.too_long) for f in expected
    ]
    assert got[-1] == Scanned(sentinel.decode(), badge=False, at=got[-1].at)
    assert inbox.pending() == 0
