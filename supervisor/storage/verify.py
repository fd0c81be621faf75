"""Walk the hash chains and name every missing, altered or inserted record.

Two chains (chain.py), one walk: the fills, and the record chain of checks, refusals, alarms and
console audit rows. Each walk reads one consistent snapshot (a record committed meanwhile is
neither seen half nor taken for a gap), so it is safe while the floor is writing. What it proves:
the rows agree with each other and with the chain's head. Someone able to rewrite every later row
and the head can forge a consistent local chain; the copy the platform holds (the outbox sends each
fill's hashes) is what catches that for fills.

The fill walk stops at the first problem (the platform's check of its copy does the same). The
record chain's links hold their records' content apart from the records, so a deleted or edited
check, refusal, alarm or audit row leaves its link intact: that walk goes on and names each one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from itertools import chain, islice
from typing import Any

import attrs
from attrs import frozen
from sqlalchemy import Connection, Engine, Integer, String, cast, exists, select

from supervisor.storage import schema as t
from supervisor.storage.chain import (
    GENESIS,
    RECORD_CHAIN_FIELDS,
    canonical_content,
    content_hash,
    link_hash,
    record_content,
    record_key,
)
from supervisor.storage.database import read_snapshot

__all__ = ["ChainReport", "broken", "check_link", "verify_chain", "verify_record_chain"]

_Row = Mapping[str, Any]

# A record chain with more problems than this is reported up to here: someone has been at the
# database wholesale, and the first hundred say so as well as all of them would.
MAX_PROBLEMS = 100


@frozen
class ChainReport:
    ok: bool
    count: int  # links found good, in order, before the first problem
    first_bad_seq: int | None = None
    first_bad_record_id: str | None = None  # None when the record itself is missing
    problem: str = ""  # for people: what is wrong and where (the first problem)
    problems: tuple[str, ...] = ()  # every problem found, the first one first


def broken(count: int, seq: int | None, rid: str | None, problem: str) -> ChainReport:
    return ChainReport(False, count, seq, rid, problem, (problem,))


@frozen
class _Link:
    """A link as stored, and the content its record holds now (None: the record is gone)."""

    seq: int
    record_id: str
    ident: str  # the record in words: a fill's record id; a record's table and key
    content: str  # as chained
    content_hash: str
    prev_hash: str
    hash: str
    content_now: str | None

    def name(self, noun: str) -> str:
        return f"{noun} #{self.seq} ({self.ident})"


def _fill_link(row: _Row) -> _Link:
    """A fill is its own link: its content is recomputed from its own fields."""
    rid = row["record_id"]
    return _Link(row["seq"], rid, rid, row["content"], row["content_hash"], row["prev_hash"], row["hash"],
                 canonical_content(row))  # fmt: skip


def check_link(row: Mapping[str, Any], prev: str, prev_rid: str | None, count: int) -> ChainReport | None:
    """One fill against the one before it (the floor's chain and the platform's copy of it alike)."""
    after = f"fill #{row['seq'] - 1} ({prev_rid})" if prev_rid else None
    return _check("fill", _fill_link(row), prev, after, count)


def _check(noun: str, link: _Link, prev: str, after: str | None, count: int) -> ChainReport | None:
    """One link against the hash of the one before it (named `after`), its record and its own hashes."""
    name = link.name(noun)

    def bad(what: str) -> ChainReport:
        return broken(count, link.seq, link.record_id, f"{name} {what}")

    if link.prev_hash != prev:
        after = after or "the start of the chain"
        return bad(f"does not follow {after}: one of them was replaced or inserted")
    if link.content_now is None:
        return bad("is missing: its row was deleted")
    if link.content_now != link.content:
        return bad(f"was altered: its fields differ from its content{_fields_differing(link)}")
    if content_hash(link.content) != link.content_hash or link_hash(prev, link.content) != link.hash:
        return bad("was altered: its hash does not match")
    return None


def _fields_differing(link: _Link) -> str:
    """The fields whose values differ from what was chained, as " (a, b)": what was edited."""
    try:
        chained, now = json.loads(link.content), json.loads(link.content_now or "{}")
    except ValueError:
        return ""  # the stored content itself was overwritten with something else
    if not isinstance(chained, dict):
        return ""
    names = sorted(k for k in chained.keys() | now.keys() if chained.get(k) != now.get(k))
    return f" ({', '.join(names)})" if names else ""


def _walk(noun: str, links: Iterable[_Link], head: tuple[int, str]) -> Iterator[ChainReport]:
    """Every problem of a chain in order: each link against the one before it, then against the
    chain's head. After a problem the walk goes on from the link as stored, so that each break is
    named once; each report's count is the links before it."""
    head_seq, head_hash = head
    expected, prev, last = 1, GENESIS, None
    past_head: _Link | None = None  # the first link numbered after the head
    for link in links:
        if link.seq != expected:
            # A gap: name the first missing number (seq < expected cannot be: primary key).
            then = f"the chain goes on at #{link.seq}, {link.ident}"
            yield broken(expected - 1, expected, None, f"{noun} #{expected} is missing ({then})")
            expected, prev, last = link.seq, link.prev_hash, None  # checked from here on its own
        bad = _check(noun, link, prev, last.name(noun) if last else None, expected - 1)
        if bad is not None:
            yield bad
        if past_head is None and link.seq > head_seq:
            past_head = link
        prev, last, expected = link.hash, link, link.seq + 1
    count = expected - 1
    if head_seq > count:
        ends = f"the chain ends at #{head_seq}"
        yield broken(count, count + 1, None, f"{noun} #{count + 1} is missing ({ends})")
    elif past_head is not None:
        inserted = f"{past_head.name(noun)} was inserted after the end of the chain (#{head_seq})"
        yield broken(head_seq, past_head.seq, past_head.record_id, inserted)
    elif last is not None and head_hash != prev:
        replaced = f"{last.name(noun)} is not the {noun} the chain ends with: it was replaced"
        yield broken(count - 1, count, last.record_id, replaced)


def _head(conn: Connection, chain_id: int) -> tuple[int, str]:
    h = t.chain_head.c
    head = conn.execute(select(h.seq, h.hash).where(h.id == chain_id)).first()
    return (0, GENESIS) if head is None else (head[0], head[1])


def _fill_links(conn: Connection) -> Iterator[_Link]:
    # Streamed (a server-side cursor on PostgreSQL): a floor's chain grows by thousands a day.
    with conn.execute(select(t.fill).order_by(t.fill.c.seq).execution_options(yield_per=2000)) as rows:
        for row in rows.mappings():
            yield _fill_link(row)


def _record_links(conn: Connection) -> Iterator[_Link]:
    """The record chain's links in order, each with its record's content as the record is now."""
    q = select(t.record_link).order_by(t.record_link.c.seq).execution_options(yield_per=2000)
    with conn.execute(q) as rows:
        for batch in rows.mappings().partitions():
            records = _records(conn, batch)
            for link in batch:
                table, key = link["record_table"], link["record_key"]
                row = records.get((table, key))
                now = None if row is None else record_content(table, link["seq"], row)
                yield _Link(link["seq"], key, f"{table} {key}", link["content"], link["content_hash"],
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
        for key in conn.execute(select(column).where(~linked).order_by(column)).scalars():
            yield broken(count, None, str(key), f"{name} {key} is not in the record chain: it was inserted "
                                                "afterwards")  # fmt: skip


def _verify_fills(conn: Connection) -> ChainReport:
    head = _head(conn, t.FILL_CHAIN)
    with closing(_fill_links(conn)) as links:
        first = next(_walk("fill", links, head), None)
    return first or ChainReport(True, head[0])


def _verify_records(conn: Connection) -> ChainReport:
    head = _head(conn, t.RECORD_CHAIN)
    with closing(_record_links(conn)) as links:
        problems = chain(_walk("record", links, head), _unlinked(conn, head[0]))
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
