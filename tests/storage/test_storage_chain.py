"""The fill hash chain: an intact chain verifies; an altered, deleted, replaced or inserted fill is named."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from sqlalchemy import delete, insert, select, update

from supervisor.storage import Database, FillLink, open_database, verify_chain
from supervisor.storage import schema as t
from supervisor.storage.chain import canonical_content, content_hash, link_hash
from supervisor.storage.outbox import anchor_acknowledged_fills
from supervisor.storage.repository import store
from tests.support.fill_records import fill


@pytest.fixture
def db(db_url: str) -> Database:
    db = open_database(db_url)
    with db.transaction() as conn:
        for n in range(1, 6):
            store(conn, fill(n))
    yield db
    db.close()


def _forge(db: Database, seq: int, **changes: object) -> None:
    """What a careful forger does: change a fill and recompute its own content and hashes."""
    with db.transaction() as conn:
        row = dict(conn.execute(select(t.fill).where(t.fill.c.seq == seq)).mappings().one())
        row.update(changes)
        content = canonical_content(row)
        conn.execute(
            update(t.fill)
            .where(t.fill.c.seq == seq)
            .values(**changes, content=content, content_hash=content_hash(content),
                    hash=link_hash(row["prev_hash"], content))
        )  # fmt: skip


def test_an_intact_chain_verifies(db: Database) -> None:
    report = verify_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_seq) == (True, 5, None)


def test_an_empty_chain_verifies(db_url: str) -> None:
    db = open_database(db_url)
    assert verify_chain(db.engine) == verify_chain(db.engine).__class__(True, 0)
    db.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [("net_kg", Decimal("13.9")), ("station", "S9"), ("cylinder_code", "HY00120000999"),
     ("flags", ["overfill"]), ("ended_at", "2026-11-24T08:00:00.000+00:00"),
     ("preact_kg", Decimal("0.9")), ("gross_before_kg", None), ("precheck_id", "chk-forged")],
)  # fmt: skip
def test_an_altered_field_is_named(db: Database, column: str, value: object) -> None:
    with db.transaction() as conn:
        conn.execute(update(t.fill).where(t.fill.c.seq == 3).values({column: value}))
    report = verify_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_seq, report.first_bad_record_id) == (
        False, 2, 3, "fill-0003",
    )  # fmt: skip
    assert "fill #3 (fill-0003) was altered" in report.problem
    assert report.problem.endswith(f"({column})")  # the field that was edited, named


def test_a_fill_forged_with_recomputed_hashes_breaks_the_next_link(db: Database) -> None:
    _forge(db, 3, net_kg=Decimal("14.9"))
    report = verify_chain(db.engine)
    assert (report.ok, report.first_bad_seq, report.first_bad_record_id) == (False, 4, "fill-0004")
    assert "does not follow fill #3 (fill-0003)" in report.problem


def test_the_last_fill_forged_is_caught_by_the_chain_head(db: Database) -> None:
    _forge(db, 5, outcome="aborted")
    report = verify_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_seq) == (False, 4, 5)


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_a_deleted_fill_is_named(db: Database, seq: int) -> None:
    with db.transaction() as conn:
        conn.execute(delete(t.fill).where(t.fill.c.seq == seq))
    report = verify_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_seq) == (False, seq - 1, seq)
    assert f"fill #{seq} is missing" in report.problem


def test_a_fill_inserted_after_the_end_is_named(db: Database) -> None:
    with db.transaction() as conn:
        last = conn.execute(select(t.fill.c.hash).where(t.fill.c.seq == 5)).scalar_one()
        row = {"seq": 6, "record_id": "forged", "cylinder_code": "HY00120000123", "station": "S1",
               "operator_id": "OP01", "outcome": "completed", "flags": [],
               "started_at": "2026-11-23T09:00:00Z", "ended_at": "2026-11-23T09:01:00Z"}  # fmt: skip
        content = canonical_content(row)
        conn.execute(insert(t.fill).values(**row, content=content, content_hash=content_hash(content),
                                           prev_hash=last, hash=link_hash(last, content)))  # fmt: skip
    report = verify_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_seq, report.first_bad_record_id) == (
        False, 5, 6, "forged",
    )  # fmt: skip
    assert "inserted" in report.problem


def test_appending_continues_a_chain_across_reopening(db_url: str, db: Database) -> None:
    again = open_database(db_url)
    with again.transaction() as conn:
        link = store(conn, fill(6))
    assert link == FillLink(6, link.hash, "fill-0006")
    assert verify_chain(again.engine).count == 6
    again.close()


def test_masses_finer_than_a_gram_are_chained_as_stored(db_url: str) -> None:
    """A column keeps grams; the chained content must hold what the column holds, or the chain
    would read as altered (a learnt preact of 0.3105 kg once did exactly that)."""
    db = open_database(db_url)
    with db.transaction() as conn:
        store(conn, attrs.evolve(fill(1), preact_kg=Decimal("0.3105"), gross_kg=Decimal("29.71249")))
    report = verify_chain(db.engine)
    assert (report.ok, report.count) == (True, 1), report.problem
    db.close()


def _rewrite_from(db: Database, seq: int, **changes: object) -> None:
    """What a thorough forger does: change a fill, then recompute every later link and the head,
    so that the chain agrees with itself again."""
    with db.transaction() as conn:
        rows = [
            dict(r)
            for r in conn.execute(select(t.fill).where(t.fill.c.seq >= seq).order_by(t.fill.c.seq)).mappings()
        ]
        prev = rows[0]["prev_hash"]
        for i, row in enumerate(rows):
            values = dict(changes) if i == 0 else {}
            row.update(values)
            content = canonical_content(row)
            new_hash = link_hash(prev, content)
            forged = update(t.fill).where(t.fill.c.seq == row["seq"])
            conn.execute(forged.values(**values, content=content, content_hash=content_hash(content),
                                       prev_hash=prev, hash=new_hash))  # fmt: skip
            prev = new_hash
        conn.execute(update(t.chain_head).where(t.chain_head.c.id == t.FILL_CHAIN).values(hash=prev))


def _acknowledged(db: Database, *record_ids: str) -> None:
    with db.transaction() as conn:
        anchor_acknowledged_fills(conn, record_ids)


def test_a_chain_rewritten_whole_verifies_alone_but_not_against_the_platforms_anchor(db: Database) -> None:
    """Issue 19: rewriting fills with recomputed hashes passed verify-chain (the chain is unkeyed)."""
    _acknowledged(db, "fill-0001", "fill-0004", "fill-0003")  # uploaded, then:
    _rewrite_from(db, 2, net_kg=Decimal("14.9"))
    with db.transaction() as conn:  # (what the chain alone says: it agrees with itself)
        conn.execute(delete(t.chain_head).where(t.chain_head.c.id == t.PLATFORM_FILL_ANCHOR))
        assert verify_chain(conn).ok
        conn.rollback()
    report = verify_chain(db.engine)
    assert (report.ok, report.first_bad_seq, report.first_bad_record_id) == (False, 4, "fill-0004")
    assert "not the fill the platform acknowledged" in report.problem


def test_an_emptied_chain_is_reported_once_the_platform_acknowledged_a_fill(db: Database) -> None:
    _acknowledged(db, "fill-0002")
    assert verify_chain(db.engine).ok
    with db.transaction() as conn:
        conn.execute(delete(t.fill))
        conn.execute(delete(t.chain_head).where(t.chain_head.c.id == t.FILL_CHAIN))
    report = verify_chain(db.engine)
    assert not report.ok
    assert "fill #2, which the platform acknowledged, is missing" in report.problem


def test_the_anchor_only_moves_forward(db: Database) -> None:
    _acknowledged(db, "fill-0004")
    _acknowledged(db, "fill-0002")  # an older fill's late acknowledgement
    with db.reading() as conn:
        seq = conn.execute(
            select(t.chain_head.c.seq).where(t.chain_head.c.id == t.PLATFORM_FILL_ANCHOR)
        ).scalar()
    assert seq == 4
