"""Appending fills to the hash chain, each with its outbox row, in the caller's transaction."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, delete, insert, select, update

from supervisor.storage import schema as t
from supervisor.storage.chain import GENESIS, canonical_content, content_hash, link_hash
from supervisor.storage.outbox import outbox_row
from supervisor.storage.records import FillRecord

__all__ = ["ChainAppender", "FillLink", "append_fill", "find_fill"]


@frozen
class FillLink:
    """Where a stored fill sits in the chain."""

    seq: int
    hash: str
    record_id: str


_GRAM = Decimal("0.001")


def _kg(value: Decimal | None) -> Decimal | None:
    """A mass as its column keeps it (to the gram): the chained content must be what is stored."""
    return None if value is None else value.quantize(_GRAM, rounding=ROUND_HALF_EVEN)


def _fill_row(r: FillRecord) -> dict[str, Any]:
    return {
        "record_id": r.record_id, "cylinder_code": r.cylinder, "station": r.station,
        "operator_id": r.operator, "outcome": r.outcome, "reason": r.reason, "tare_kg": _kg(r.tare_kg),
        "target_kg": _kg(r.target_kg), "gross_kg": _kg(r.gross_kg), "net_kg": _kg(r.net_kg),
        "error_g": r.error_g, "flags": list(r.flags), "started_at": r.started_at,
        "ended_at": r.ended_at, "gross_before_kg": _kg(r.gross_before_kg), "preact_kg": _kg(r.preact_kg),
        "precheck_id": r.precheck_id, "topup_of": r.topup_of,
    }  # fmt: skip


class ChainAppender:
    """Appends fills within one transaction: the head is read once and written once, and the rows
    go in as one executemany per table at `close`, so a group commit of many fills costs a few
    statements, not several per fill. Writers are serialised by the database (SQLite: BEGIN
    IMMEDIATE; PostgreSQL: the head row is read FOR UPDATE), so two processes appending at once
    queue rather than fork the chain."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        q = select(t.chain_head.c.seq, t.chain_head.c.hash).where(t.chain_head.c.id == 1).with_for_update()
        head = conn.execute(q).first()
        self._had_head = head is not None
        self._seq, self._hash = (0, GENESIS) if head is None else (head[0], head[1])
        self._fills: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []

    def append(self, record: FillRecord) -> FillLink:
        row = {"seq": self._seq + 1, **_fill_row(record)}
        content = canonical_content(row)
        digest = link_hash(self._hash, content)
        chained = {"content": content, "content_hash": content_hash(content), "prev_hash": self._hash,
                   "hash": digest}  # fmt: skip
        self._fills.append({**row, **chained})
        self._outbox.append(outbox_row(record.record_id, "fill", {**row, **chained}))
        self._seq, self._hash = row["seq"], digest
        return FillLink(self._seq, digest, record.record_id)

    def close(self) -> None:
        """Write the fills, their outbox rows and the new head; call before the transaction commits."""
        if not self._fills:
            return
        self._conn.execute(insert(t.fill), self._fills)
        self._conn.execute(insert(t.outbox), self._outbox)
        # The fill is recorded: its open marker (written before its valve opened) is closed with it.
        done = [f["record_id"] for f in self._fills]
        self._conn.execute(delete(t.fill_open).where(t.fill_open.c.record_id.in_(done)))
        self._fills, self._outbox = [], []
        values = {"seq": self._seq, "hash": self._hash}
        if self._had_head:
            self._conn.execute(update(t.chain_head).where(t.chain_head.c.id == 1).values(**values))
        else:
            # Migration 0002 creates the head row; a database without one is repaired here.
            self._conn.execute(insert(t.chain_head).values(id=1, **values))
            self._had_head = True


def append_fill(conn: Connection, record: FillRecord) -> FillLink:
    """Append one fill to the chain, with its outbox row, in the caller's transaction."""
    chain = ChainAppender(conn)
    link = chain.append(record)
    chain.close()
    return link


def find_fill(conn: Connection, record: FillRecord) -> FillLink | None:
    """The stored fill with this record id if it holds exactly this record (a write retried after
    a lost commit acknowledgement is then the same record, not a duplicate), else None."""
    row = conn.execute(select(t.fill).where(t.fill.c.record_id == record.record_id)).mappings().first()
    if row is None or canonical_content(row) != canonical_content({"seq": row["seq"], **_fill_row(record)}):
        return None
    return FillLink(row["seq"], row["hash"], record.record_id)
