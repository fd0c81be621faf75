"""Appending to the hash chains in the caller's transaction: fills, each with its outbox row, and
the record chain's links (checks, refusals, alarms, console audit rows). Both chains end in a
`chain_head` row (`_ChainEnd`) and link their content alike (chain.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, delete, insert, select, update

from domain.records import FillRecord
from supervisor.storage import schema as t
from supervisor.storage.chain import GENESIS, canonical_content, link_columns, record_content, record_key
from supervisor.storage.outbox import outbox_row
from supervisor.storage.record_rows import record_row

__all__ = ["ChainAppender", "FillLink", "RecordChainAppender", "append_fill", "find_fill"]


@frozen
class FillLink:
    """Where a stored fill sits in the chain."""

    seq: int
    hash: str
    record_id: str


class _ChainEnd:
    """The newest link of one chain (its `chain_head` row) within a transaction: read once, locked,
    and written once. Writers are serialised by the database (SQLite: BEGIN IMMEDIATE; PostgreSQL:
    the head row is read FOR UPDATE), so two processes appending at once queue rather than fork
    the chain."""

    def __init__(self, conn: Connection, chain: int) -> None:
        self._conn, self._chain = conn, chain
        h = t.chain_head.c
        head = conn.execute(select(h.seq, h.hash).where(h.id == chain).with_for_update()).first()
        self._had_head = head is not None
        self.seq, self.hash = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))

    @property
    def next_seq(self) -> int:
        return self.seq + 1

    def link(self, content: str) -> dict[str, str]:
        """Chain the content of link `next_seq`: its columns (chain.py), the end moved on to it."""
        chained = link_columns(self.hash, content)
        self.seq, self.hash = self.seq + 1, chained["hash"]
        return chained

    def write(self) -> None:
        """Store the new end; call before the transaction commits."""
        values = {"seq": self.seq, "hash": self.hash}
        if self._had_head:
            self._conn.execute(update(t.chain_head).where(t.chain_head.c.id == self._chain).values(**values))
        else:
            # Migrations 0002 and 0008 create the head rows; a database without one is repaired here.
            self._conn.execute(insert(t.chain_head).values(id=self._chain, **values))
            self._had_head = True
        self._moved = False


class ChainAppender:
    """Appends fills within one transaction: the head is read once and written once, and the rows
    go in as one executemany per table at `close`, so a group commit of many fills costs a few
    statements, not several per fill."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._end = _ChainEnd(conn, t.FILL_CHAIN)
        self._fills: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []

    def append(self, record: FillRecord) -> FillLink:
        row = {"seq": self._end.next_seq, **record_row(record)}
        chained = self._end.link(canonical_content(row))
        self._fills.append({**row, **chained})
        self._outbox.append(outbox_row(record.record_id, "fill", {**row, **chained}))
        return FillLink(self._end.seq, self._end.hash, record.record_id)

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
        self._end.write()


class RecordChainAppender:
    """Links checks, refusals, alarms and console audit rows into the record chain within one
    transaction, in the order they are stored, as `ChainAppender` does fills: the records are in
    their own tables already; their links and the new head go in at `close`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._end = _ChainEnd(conn, t.RECORD_CHAIN)
        self._links: list[dict[str, Any]] = []

    def append(self, table: str, row: Mapping[str, Any]) -> None:
        """Link the record stored as `row` in `table` (its columns, the key included)."""
        seq = self._end.next_seq
        chained = self._end.link(record_content(table, seq, row))
        key = record_key(table, row)
        self._links.append({"seq": seq, "record_table": table, "record_key": key, **chained})

    def close(self) -> None:
        """Write the links and the new head; call before the transaction commits."""
        if not self._links:
            return
        self._conn.execute(insert(t.record_link), self._links)
        self._links = []
        self._end.write()


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
    if row is None or canonical_content(row) != canonical_content({"seq": row["seq"], **record_row(record)}):
        return None
    return FillLink(row["seq"], row["hash"], record.record_id)
