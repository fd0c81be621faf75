"""Walk the hash chains and name every missing, altered or inserted record.

Two chains (chain.py), one walk (domain/chain_walk.py, the platform's too): the fills, and the
record chain of checks, refusals, alarms and console audit rows. Each walk reads one consistent
snapshot (a record committed meanwhile is neither seen half nor taken for a gap), so it is safe
while the floor is writing. What it proves: the rows agree with each other and with the chain's
head. Someone able to rewrite every later row and the head can forge a consistent local chain; the
copy the platform holds (the outbox sends each fill's hashes) is what catches that for fills.

The fill walk stops at the first problem (the platform's check of its copy does the same). The
record chain's links hold their records' content apart from the records, so a deleted or edited
check, refusal, alarm or audit row leaves its link intact: that walk goes on and names each one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from itertools import chain, islice
from typing import Any

import attrs
from sqlalchemy import Connection, Engine, Integer, String, cast, exists, select

from domain.chain import GENESIS, StoredRow
from domain.chain_walk import ChainReport, Link, broken, fill_link, walk, walk_to_first_problem
from supervisor.storage import schema as t
from supervisor.storage.chain import RECORD_CHAIN_FIELDS, record_content, record_key
from supervisor.storage.database import read_snapshot

__all__ = ["MAX_PROBLEMS", "ChainReport", "verify_chain", "verify_record_chain"]

_Row = StoredRow

# A record chain with more problems than this is reported up to here: someone has been at the
# database wholesale, and the first hundred say so as well as all of them would.
MAX_PROBLEMS = 100


def _head(conn: Connection, chain_id: int) -> tuple[int, str]:
    h = t.chain_head.c
    head = conn.execute(select(h.seq, h.hash).where(h.id == chain_id)).first()
    return (0, GENESIS) if head is None else (head[0], head[1])


def _fill_links(conn: Connection) -> Generator[Link, None, None]:
    # Streamed (a server-side cursor on PostgreSQL): a floor's chain grows by thousands a day.
    with conn.execute(select(t.fill).order_by(t.fill.c.seq).execution_options(yield_per=2000)) as rows:
        for row in rows.mappings():
            yield fill_link(row)


def _record_links(conn: Connection) -> Generator[Link, None, None]:
    """The record chain's links in order, each with its record's content as the record is now."""
    q = select(t.record_link).order_by(t.record_link.c.seq).execution_options(yield_per=2000)
    with conn.execute(q) as rows:
        for batch in rows.mappings().partitions():
            records = _records(conn, batch)
            for link in batch:
                table, key = link["record_table"], link["record_key"]
                row = records.get((table, key))
                now = None if row is None else record_content(table, link["seq"], row)
                yield Link(link["seq"], key, f"{table} {key}", link["content"], link["content_hash"],
                            link["prev_hash"], link["hash"], now)  # fmt: skip


def _records(conn: Connection, links: Sequence[_Row]) -> dict[tuple[str, str], _Row]:
    """The rows these links name, by (table, key); a row that is gone is not there."""
    keys: dict[str, list[str]] = defaultdict(list)
    for link in links:
        keys[link["record_table"]].append(link["record_key"])
    found: dict[tuple[str, str], _Row] = {}
    for name, wanted in keys.items():
        if name not in RECORD_CHAIN_FIELDS:
            continue  # a link naming no table of records: its record is missing
        table = t.metadata.tables[name]
        column = table.c[RECORD_CHAIN_FIELDS[name][0]]
        if isinstance(column.type, Integer):  # a console audit row's number
            values: list[Any] = [int(k) for k in wanted if k.isdigit()]
        else:
            values = wanted
        for row in conn.execute(select(table).where(column.in_(values))).mappings():
            found[(name, record_key(name, row))] = row
    return found


def _unlinked(conn: Connection, count: int) -> Iterator[ChainReport]:
    """Records in their tables that no link names: put there afterwards, past the floor's writer."""
    link = t.record_link.c
    for name, fields in RECORD_CHAIN_FIELDS.items():
        column = t.metadata.tables[name].c[fields[0]]
        linked = exists().where(link.record_table == name, link.record_key == cast(column, String))
        keys: list[object] = list(conn.execute(select(column).where(~linked).order_by(column)).scalars())
        for key in keys:
            yield broken(count, None, str(key), f"{name} {key} is not in the record chain: it was inserted "
                                                "afterwards")  # fmt: skip


def _verify_fills(conn: Connection) -> ChainReport:
    head = _head(conn, t.FILL_CHAIN)
    with closing(_fill_links(conn)) as links:
        report = walk_to_first_problem("fill", links, head)
    return report if not report.ok else _against_anchor(conn, report)


def _against_anchor(conn: Connection, report: ChainReport) -> ChainReport:
    """A chain that agrees with itself must also hold the newest fill the platform acknowledged, as
    it was: rewriting fills with recomputed hashes, or emptying the chain, cannot keep that."""
    h = t.chain_head.c
    anchor = conn.execute(select(h.seq, h.hash).where(h.id == t.PLATFORM_FILL_ANCHOR)).first()
    if anchor is None:
        return report
    f = t.fill.c
    row = conn.execute(select(f.record_id, f.hash).where(f.seq == anchor.seq)).first()
    if row is None:
        return broken(report.count, anchor.seq, None,
                      f"fill #{anchor.seq}, which the platform acknowledged, is missing: the chain was "
                      f"cut or emptied after its upload (the chain now ends at #{report.count})")  # fmt: skip
    if row.hash != anchor.hash:
        return broken(report.count, anchor.seq, row.record_id,
                      f"fill #{anchor.seq} ({row.record_id}) is not the fill the platform acknowledged "
                      "(its hash differs): the chain was rewritten after its upload")  # fmt: skip
    return report


def _verify_records(conn: Connection) -> ChainReport:
    head = _head(conn, t.RECORD_CHAIN)
    with closing(_record_links(conn)) as links:
        problems = chain(walk("record", links, head), _unlinked(conn, head[0]))
        found = list(islice(problems, MAX_PROBLEMS + 1))
    if not found:
        return ChainReport(True, head[0])
    said = tuple(p.problem for p in found[:MAX_PROBLEMS])
    if len(found) > MAX_PROBLEMS:
        said += (f"... and more: the walk stopped after {MAX_PROBLEMS} problems",)
    return attrs.evolve(found[0], problems=said)


def _in_snapshot(source: Engine | Connection, walk: Callable[[Connection], ChainReport]) -> ChainReport:
    if isinstance(source, Engine):
        with read_snapshot(source) as conn:
            return walk(conn)
    return walk(source)


def verify_chain(source: Engine | Connection) -> ChainReport:
    """Check every fill in order against its neighbours, its content and the chain head."""
    return _in_snapshot(source, _verify_fills)


def verify_record_chain(source: Engine | Connection) -> ChainReport:
    """Check every check, refusal, alarm and console audit row against its link in the record
    chain, the links in order against each other and the chain's head, and that no record is
    outside the chain; every problem is named (up to MAX_PROBLEMS)."""
    return _in_snapshot(source, _verify_records)
