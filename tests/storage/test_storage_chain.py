"""The fill hash chain: an intact chain verifies; an altered, deleted, replaced or inserted fill is named."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from sqlalchemy import delete, insert, select, update

from supervisor.storage import Database, FillLink, open_database, verify_chain
from supervisor.storage import schema as t
from supervisor.storage.chain import canonical_content, content_hash, link_hash
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
