"""Re-verify a unit's fill hash chain from the fills it uploaded (杜绝虚假登记).

The floor's own walk (domain/chain_walk.py, as `supervisor.storage.verify` runs it), on the
platform's copy: fills in sequence from #1, each one's content equal to its fields, its
`content_hash` and its chain `hash` recomputed (domain/chain.py), and each `prev_hash` equal to the
previous fill's hash; a number uploaded twice is a forked chain. The platform holds no head, so
the walk stops at the last fill received: a fill the platform has not received yet shows as
missing only once a later one has come; run it once the unit's outbox is drained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from domain.chain_walk import ChainReport, fill_link, walk_to_first_problem
from platform_server import schema as t

__all__ = ["chain_links", "report_json", "verify_unit_chain"]


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
        payloads: Iterable[Mapping[str, Any]] = rows.scalars()
        return walk_to_first_problem("fill", (fill_link(payload) for payload in payloads))


def chain_links(conn: Connection, unit: str, after: int, limit: int) -> list[tuple[int, str]]:
    """The unit's uploaded fills as (seq, hash), after `after`, in order: what the floor compares
    its own chain with (`fillfloor verify-chain --against-platform`)."""
    q = (
        select(t.record.c.seq, t.record.c.payload)
        .where(t.record.c.unit == unit, t.record.c.kind == "fill", t.record.c.seq > after)
        .order_by(t.record.c.seq, t.record.c.id)
        .limit(limit)
    )
    return [(int(row[0]), str(_hash_of(row[1]))) for row in conn.execute(q)]


def _hash_of(payload: object) -> object:
    return payload.get("hash", "") if isinstance(payload, dict) else ""


def report_json(unit: str, report: ChainReport) -> dict[str, Any]:
    return {
        "unit": unit,
        "ok": report.ok,
        "count": report.count,
        "first_bad_seq": report.first_bad_seq,
        "first_bad_record_id": report.first_bad_record_id,
        "problem": report.problem,
    }
