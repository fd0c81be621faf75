"""Walking a hash chain (domain/chain.py) and naming every missing, altered or inserted link: the
floor's own check of its chains (`supervisor.storage.verify`) and the platform's check of the
copy of a unit's fill chain (`platform_server.chain_check`) are this one walk.

A link is checked against the one before it (its `prev_hash`), against its record as it is now
(the content recomputed from the record's fields) and against its own hashes; given the chain's
head (its newest link as last written), the chain's end is checked against it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from attrs import frozen

from domain.chain import GENESIS, StoredRow, canonical_content, content_hash, link_hash

__all__ = ["ChainReport", "Link", "broken", "fill_link", "walk", "walk_to_first_problem"]


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
class Link:
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


def fill_link(row: StoredRow) -> Link:
    """A fill is its own link: its content is recomputed from its own fields (a row of the floor's
    `fill` table, or the payload the platform received: the same fields)."""
    rid = row["record_id"]
    return Link(row["seq"], rid, rid, row["content"], row["content_hash"], row["prev_hash"], row["hash"],
                canonical_content(row))  # fmt: skip


def _check(noun: str, link: Link, prev: str, after: str | None, count: int) -> ChainReport | None:
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


def _fields_differing(link: Link) -> str:
    """The fields whose values differ from what was chained, as " (a, b)": what was edited."""
    try:
        chained, now = json.loads(link.content), json.loads(link.content_now or "{}")
    except ValueError:
        return ""  # the stored content itself was overwritten with something else
    if not isinstance(chained, dict):
        return ""
    names = sorted(k for k in chained.keys() | now.keys() if chained.get(k) != now.get(k))
    return f" ({', '.join(names)})" if names else ""


def walk(noun: str, links: Iterable[Link], head: tuple[int, str] | None = None) -> Iterator[ChainReport]:
    """Every problem of a chain, its links in `seq` order: each link against the one before it,
    then (given) against the chain's head, its (seq, hash). After a problem the walk goes on from
    the link as stored, so that each break is named once; each report's count is the links before it."""
    expected, prev, last = 1, GENESIS, None
    past_head: Link | None = None  # the first link numbered after the head
    for link in links:
        if last is not None and link.seq == last.seq:
            # Only a copy can hold a number twice (the floor's `seq` is a primary key): a unit whose
            # chain forked uploaded both links.
            twice = f"{noun} #{link.seq} was uploaded twice, as {last.record_id} and {link.record_id}: " \
                    "the chain forked"  # fmt: skip
            yield broken(link.seq - 1, link.seq, link.record_id, twice)
            continue
        if link.seq != expected:
            # A gap: name the first missing number.
            then = f"the chain goes on at #{link.seq}, {link.ident}"
            yield broken(expected - 1, expected, None, f"{noun} #{expected} is missing ({then})")
            expected, prev, last = link.seq, link.prev_hash, None  # checked from here on its own
        bad = _check(noun, link, prev, last.name(noun) if last else None, expected - 1)
        if bad is not None:
            yield bad
        if head is not None and past_head is None and link.seq > head[0]:
            past_head = link
        prev, last, expected = link.hash, link, link.seq + 1
    if head is None:
        return
    count, (head_seq, head_hash) = expected - 1, head
    if head_seq > count:
        ends = f"the chain ends at #{head_seq}"
        yield broken(count, count + 1, None, f"{noun} #{count + 1} is missing ({ends})")
    elif past_head is not None:
        inserted = f"{past_head.name(noun)} was inserted after the end of the chain (#{head_seq})"
        yield broken(head_seq, past_head.seq, past_head.record_id, inserted)
    elif last is not None and head_hash != prev:
        replaced = f"{last.name(noun)} is not the {noun} the chain ends with: it was replaced"
        yield broken(count - 1, count, last.record_id, replaced)


def walk_to_first_problem(
    noun: str, links: Iterable[Link], head: tuple[int, str] | None = None
) -> ChainReport:
    """The chain's first problem, or ok with the number of links (given a head: the head's)."""
    seen = 0

    def counted() -> Iterator[Link]:
        nonlocal seen
        for link in links:
            seen += 1
            yield link

    first = next(walk(noun, counted(), head), None)
    return first or ChainReport(True, seen if head is None else head[0])
