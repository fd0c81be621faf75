"""Re-verify a unit's fill hash chain from the fills it uploaded (杜绝虚假登记).

The same rules as the floor's own check (`supervisor.storage.verify`), from the platform's copy:
fills in sequence from #1, each one's content equal to its fields (`canonical_content`), its
`content_hash` and its chain `hash` = sha256(previous hash ‖ content) recomputed
(`supervisor.storage.chain`), and each `prev_hash` equal to the previous fill's hash. A fill the
platform has not received yet shows as missing: run it once the unit's outbox is drained.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from platform_server import schema as t
from supervisor.storage.chain import GENESIS, canonical_content, content_hash, link_hash
from supervisor.storage.verify import ChainReport

__all__ = ["report_json", "verify_unit_chain"]


def _bad(count: int, seq: int, rid: str | None, problem: str) -> ChainReport:
    return ChainReport(False, count, seq, rid, problem)


def _check(p: dict[str, Any], prev: str, prev_rid: str | None, count: int) -> ChainReport | None:
    seq, rid = p["seq"], p["record_id"]
    if p["prev_hash"] != prev:
        after = f"fill #{seq - 1} ({prev_rid})" if prev_rid else "the start of the chain"
        return _bad(count, seq, rid, f"fill #{seq} ({rid}) does not follow {after}: one of them was "
                                     "replaced or inserted")  # fmt: skip
    content = canonical_content(p)
    if content != p["content"]:
        return _bad(count, seq, rid, f"fill #{seq} ({rid}) was altered: its fields differ from its content")
    if content_hash(content) != p["content_hash"] or link_hash(prev, content) != p["hash"]:
        return _bad(count, seq, rid, f"fill #{seq} ({rid}) was altered: its hash does not match")
    return None


def verify_unit_chain(conn: Connection, unit: str) -> ChainReport:
    """Walk the unit's uploaded fills in sequence; the first problem, or ok with the count."""
    q = (
        select(t.record.c.payload)
        .where(t.record.c.unit == unit, t.record.c.kind == "fill")
        .order_by(t.record.c.seq, t.record.c.id)
        .execution_options(yield_per=2000)
    )
    # Streamed (a server-side cursor on PostgreSQL), and closed when the walk stops early.
    with conn.execute(q) as rows:
        return _walk(rows.scalars())


def _walk(payloads: Iterable[dict[str, Any]]) -> ChainReport:
    expected, prev, prev_rid = 1, GENESIS, None
    for p in payloads:
        seq = p.get("seq")
        if seq == expected - 1:
            twice = (
                f"fill #{seq} was uploaded twice, as {prev_rid} and {p.get('record_id')}: the chain forked"
            )
            return _bad(expected - 2, seq, p.get("record_id"), twice)
        if seq != expected:
            then = f"the chain goes on at #{seq}, {p.get('record_id')}"
            return _bad(expected - 1, expected, None, f"fill #{expected} is missing ({then})")
        bad = _check(p, prev, prev_rid, expected - 1)
        if bad is not None:
            return bad
        prev, prev_rid, expected = p["hash"], p["record_id"], expected + 1
    return ChainReport(True, expected - 1)


def report_json(unit: str, report: ChainReport) -> dict[str, Any]:
    return {
        "unit": unit,
        "ok": report.ok,
        "count": report.count,
        "first_bad_seq": report.first_bad_seq,
        "first_bad_record_id": report.first_bad_record_id,
        "problem": report.problem,
    }
