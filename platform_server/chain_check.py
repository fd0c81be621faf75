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
from supervisor.storage.chain import GENESIS
from supervisor.storage.verify import ChainReport, broken, check_link

__all__ = ["report_json", "verify_unit_chain"]


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
            return broken(expected - 2, seq, p.get("record_id"), twice)
        if seq != expected:
            then = f"the chain goes on at #{seq}, {p.get('record_id')}"
            return broken(expected - 1, expected, None, f"fill #{expected} is missing ({then})")
        bad = check_link(p, prev, prev_rid, expected - 1)
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
