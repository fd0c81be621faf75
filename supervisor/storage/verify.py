"""Walk the fill chain and name the first missing, altered or inserted record.

The walk reads one consistent snapshot (a fill committed meanwhile is neither seen half nor taken
for a gap), so it is safe while the floor is writing. What it proves: the rows agree with each
other and with the chain head. Someone able to rewrite every later row and the head can forge a
consistent local chain; the copy the platform holds (the outbox sends each fill's hashes) is what
catches that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, Engine, select

from supervisor.storage import schema as t
from supervisor.storage.chain import GENESIS, canonical_content, content_hash, link_hash
from supervisor.storage.database import read_snapshot

__all__ = ["ChainReport", "broken", "check_link", "verify_chain"]


@frozen
class ChainReport:
    ok: bool
    count: int  # fills found good, in order, before the first problem
    first_bad_seq: int | None = None
    first_bad_record_id: str | None = None  # None when the record itself is missing
    problem: str = ""  # for people: what is wrong and where


def broken(count: int, seq: int, rid: str | None, problem: str) -> ChainReport:
    return ChainReport(False, count, seq, rid, problem)


def check_link(row: Mapping[str, Any], prev: str, prev_rid: str | None, count: int) -> ChainReport | None:
    """One fill against the one before it (the floor's chain and the platform's copy of it alike)."""
    seq, rid = row["seq"], row["record_id"]
    if row["prev_hash"] != prev:
        after = f"fill #{seq - 1} ({prev_rid})" if prev_rid else "the start of the chain"
        return broken(count, seq, rid, f"fill #{seq} ({rid}) does not follow {after}: one of them was "
                                     "replaced or inserted")  # fmt: skip
    content = canonical_content(row)
    if content != row["content"]:
        return broken(count, seq, rid, f"fill #{seq} ({rid}) was altered: its fields differ from its content")
    if content_hash(content) != row["content_hash"] or link_hash(prev, content) != row["hash"]:
        return broken(count, seq, rid, f"fill #{seq} ({rid}) was altered: its hash does not match")
    return None


def _walk(conn: Connection) -> ChainReport:
    expected, prev, prev_rid = 1, GENESIS, None
    # Streamed (a server-side cursor on PostgreSQL): a floor's chain grows by thousands a day.
    with conn.execute(select(t.fill).order_by(t.fill.c.seq).execution_options(yield_per=2000)) as rows:
        for row in rows.mappings():
            if row["seq"] != expected:
                # A gap: name the first missing number (seq < expected cannot be: primary key).
                then = f"the chain goes on at #{row['seq']}, {row['record_id']}"
                return broken(expected - 1, expected, None, f"fill #{expected} is missing ({then})")
            bad = check_link(row, prev, prev_rid, expected - 1)
            if bad is not None:
                return bad
            prev, prev_rid, expected = row["hash"], row["record_id"], expected + 1
    count = expected - 1
    head = conn.execute(select(t.chain_head.c.seq, t.chain_head.c.hash)).first()
    head_seq, head_hash = (0, GENESIS) if head is None else (head[0], head[1])
    if head_seq > count:
        return broken(count, count + 1, None, f"fill #{count + 1} is missing (the chain ends at #{head_seq})")
    if head_seq < count:
        extra = conn.execute(select(t.fill.c.record_id).where(t.fill.c.seq == head_seq + 1)).scalar_one()
        return broken(head_seq, head_seq + 1, extra, f"fill #{head_seq + 1} ({extra}) was inserted after the "
                                                   f"end of the chain (#{head_seq})")  # fmt: skip
    if head_hash != prev:
        return broken(count - 1, count, prev_rid, f"fill #{count} ({prev_rid}) is not the fill the chain "
                                                "ends with: it was replaced")  # fmt: skip
    return ChainReport(True, count)


def verify_chain(source: Engine | Connection) -> ChainReport:
    """Check every fill in order against its neighbours, its content and the chain head."""
    if isinstance(source, Engine):
        with read_snapshot(source) as conn:
            return _walk(conn)
    return _walk(source)
