"""The record chain: checks, refusals, alarms and console audit rows written by the floor's writer
verify untouched; a deleted, edited, forged or slipped-in record is named by table and record id."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio
from sqlalchemy import Table, delete, func, insert, select, update

from domain.checks import standard_items
from supervisor.storage import (
    AlarmRecord,
    AuditRecord,
    CheckRecord,
    Database,
    FillRecord,
    Record,
    RefusalRecord,
    StorageWriter,
    open_database,
    verify_chain,
)
from supervisor.storage import schema as t
from supervisor.storage.chain import content_hash, link_hash
from supervisor.storage.repository import store
from supervisor.storage.verify import MAX_PROBLEMS, verify_record_chain

CODE = "HY00120000123"


def _at(minute: int) -> str:
    return f"2026-12-04T08:{minute:02d}:00.000+00:00"


def _fill(n: int) -> FillRecord:
    return FillRecord(record_id=f"fill-{n}", cylinder=CODE, station="S1", operator="OP01",
                      outcome="completed", started_at=_at(n), ended_at=_at(n + 1),
                      tare_kg=Decimal("15.2"), target_kg=Decimal("29.7"), gross_kg=Decimal("29.71"),
                      net_kg=Decimal("14.51"), precheck_id="chk-pre-1")  # fmt: skip


def _items(phase: str) -> dict[str, str]:
    return dict.fromkeys(standard_items(phase), "ok")


# A cylinder's turn at station S1, in the order the floor writes it: 11 records, 9 of them linked.
TURN: list[Record] = [
    AuditRecord(_at(0), "李检", "checker", "check", "ok", CODE),
    CheckRecord("chk-pre-1", CODE, "pre", "pass", "李检", _at(0), _items("pre"), "S1"),
    RefusalRecord("ref-1", "S1", ("precheck.missing",), _at(1), "HY00120000124", "HY00120000124", "OP01"),
    _fill(2),
    AlarmRecord("alm-1", "A1", "fill.overfill", "high", "超装 0.3 kg", "raised", _at(4), "S1"),
    AuditRecord(_at(5), "王班长", "supervisor", "ack", "ok", "A1"),
    AlarmRecord("alm-2", "A1", "fill.overfill", "high", "超装 0.3 kg", "acknowledged", _at(5), "S1"),
    CheckRecord("chk-post-1", CODE, "post", "pass", "李检", _at(6), _items("post"), "S1", "fill-2"),
    _fill(7),
    RefusalRecord("ref-2", "S1", ("tare.residual_excess", "precheck.missing"), _at(9), CODE, CODE, "OP01"),
    AuditRecord(_at(9), "王班长", "supervisor", "pause", "refused", "S1", "station filling"),
]  # fmt: skip
LINKED = 9  # TURN less its two fills


async def _write(db: Database, records: list[Record]) -> None:
    """Through the floor's own writer, grouped as it groups them."""
    writer = StorageWriter(db)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        assert await writer.write_many(records) == [None] * len(records)
        nursery.cancel_scope.cancel()


@pytest.fixture
def db(db_url: str) -> Database:
    db = open_database(db_url)
    trio.run(_write, db, TURN)
    yield db
    db.close()


def _change(db: Database, statement: object) -> None:
    with db.transaction() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_an_untouched_floor_verifies_both_chains(db: Database) -> None:
    records = verify_record_chain(db.engine)
    assert (records.ok, records.count, records.problems) == (True, LINKED, ())
    assert (verify_chain(db.engine).ok, verify_chain(db.engine).count) == (True, 2)


def test_a_deleted_pre_fill_check_is_named(db: Database) -> None:
    _change(db, delete(t.check_record).where(t.check_record.c.record_id == "chk-pre-1"))
    report = verify_record_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_seq) == (False, 1, 2)
    assert report.first_bad_record_id == "chk-pre-1"
    assert report.problems == ("record #2 (check_record chk-pre-1) is missing: its row was deleted",)


def test_a_checker_name_edited_is_named_with_the_field(db: Database) -> None:
    check = t.check_record.c
    _change(db, update(t.check_record).where(check.record_id == "chk-post-1").values(checker="张三"))
    report = verify_record_chain(db.engine)
    assert (report.ok, report.first_bad_record_id) == (False, "chk-post-1")
    assert report.problem == (
        "record #7 (check_record chk-post-1) was altered: its fields differ from its content (checker)"
    )


@pytest.mark.parametrize(
    ("table", "where", "values", "named"),
    [(t.refusal, t.refusal.c.record_id == "ref-2", {"reasons": ["precheck.missing"]}, "refusal ref-2"),
     (t.alarm, t.alarm.c.record_id == "alm-1", {"severity": "low"}, "alarm alm-1"),
     (t.console_audit, t.console_audit.c.command == "ack", {"who": "nobody"}, "console_audit 2"),
     (t.check_record, t.check_record.c.record_id == "chk-pre-1", {"items": {"valve": "ok"}},
      "check_record chk-pre-1")],
)  # fmt: skip
def test_any_record_edited_is_named(
    db: Database, table: Table, where: object, values: dict[str, object], named: str
) -> None:
    _change(db, update(table).where(where).values(values))
    report = verify_record_chain(db.engine)
    assert not report.ok
    assert f"({named}) was altered" in report.problem


def test_the_newest_audit_row_deleted_is_named(db: Database) -> None:
    _change(db, delete(t.console_audit).where(t.console_audit.c.command == "pause"))
    report = verify_record_chain(db.engine)
    assert report.problems == (f"record #{LINKED} (console_audit 3) is missing: its row was deleted",)


def test_the_newest_record_deleted_with_its_link_is_caught_by_the_chain_head(db: Database) -> None:
    _change(db, delete(t.console_audit).where(t.console_audit.c.command == "pause"))
    _change(db, delete(t.record_link).where(t.record_link.c.seq == LINKED))
    report = verify_record_chain(db.engine)
    assert (report.ok, report.count) == (False, LINKED - 1)
    assert report.problem == f"record #{LINKED} is missing (the chain ends at #{LINKED})"


def test_each_break_is_named_and_the_walk_goes_on(db: Database) -> None:
    _change(db, delete(t.check_record).where(t.check_record.c.record_id == "chk-pre-1"))
    _change(db, update(t.refusal).where(t.refusal.c.record_id == "ref-2").values(operator_id="OP02"))
    _change(db, delete(t.record_link).where(t.record_link.c.seq == 4))  # alm-1's link, its alarm left
    report = verify_record_chain(db.engine)
    assert report.problems == (
        "record #2 (check_record chk-pre-1) is missing: its row was deleted",
        "record #4 is missing (the chain goes on at #5, console_audit 2)",
        "record #8 (refusal ref-2) was altered: its fields differ from its content (operator_id)",
        "alarm alm-1 is not in the record chain: it was inserted afterwards",
    )


def test_a_link_forged_with_recomputed_hashes_puts_the_next_out_of_order(db: Database) -> None:
    """What a careful forger does: edit the check and its link, hashes recomputed."""
    check, link = t.check_record.c, t.record_link.c
    with db.transaction() as conn:
        conn.execute(update(t.check_record).where(check.record_id == "chk-pre-1").values(checker="X"))
        stored = conn.execute(select(t.record_link).where(link.seq == 2)).mappings().one()
        content = stored["content"].replace('"checker":"李检"', '"checker":"X"')
        forged = {"content": content, "content_hash": content_hash(content),
                  "hash": link_hash(stored["prev_hash"], content)}  # fmt: skip
        conn.execute(update(t.record_link).where(link.seq == 2).values(forged))
    report = verify_record_chain(db.engine)
    assert report.problems == (
        "record #3 (refusal ref-1) does not follow record #2 (check_record chk-pre-1): one of them was "
        "replaced or inserted",
    )


def test_a_record_slipped_in_past_the_writer_is_named(db: Database) -> None:
    forged = {"record_id": "chk-forged", "cylinder_code": CODE, "phase": "pre", "result": "pass",
              "items": {}, "checker": "李检", "at": _at(3)}  # fmt: skip
    _change(db, insert(t.check_record).values(forged))
    report = verify_record_chain(db.engine)
    assert (report.ok, report.count, report.first_bad_record_id) == (False, LINKED, "chk-forged")
    assert report.problem == "check_record chk-forged is not in the record chain: it was inserted afterwards"


def test_records_stored_one_by_one_continue_the_chain(db_url: str, db: Database) -> None:
    again = open_database(db_url)
    with again.transaction() as conn:
        store(conn, AuditRecord(_at(10), "王班长", "supervisor", "resume", "ok", "S1"))
    report = verify_record_chain(again.engine)
    assert (report.ok, report.count) == (True, LINKED + 1), report.problem
    again.close()


def test_the_fill_chain_is_the_same_with_or_without_the_other_records(db: Database, tmp_path) -> None:
    """The platform checks the fills' chain by the same rules: records between fills change nothing."""
    alone = open_database(f"sqlite:///{tmp_path / 'fills-only.db'}")
    trio.run(_write, alone, [r for r in TURN if isinstance(r, FillRecord)])
    hashes = []
    for base in (db, alone):
        with base.reading() as conn:
            hashes.append(conn.execute(select(t.fill.c.hash).order_by(t.fill.c.seq)).scalars().all())
    assert hashes[0] == hashes[1]
    alone.close()


def test_a_wholesale_rewrite_is_reported_up_to_a_limit(db_url: str) -> None:
    db = open_database(db_url)
    with db.transaction() as conn:
        for n in range(MAX_PROBLEMS + 5):
            store(conn, AuditRecord(_at(n % 60), "王班长", "supervisor", "ack", "ok", f"A{n}"))
    _change(db, update(t.console_audit).values(detail="rewritten"))
    report = verify_record_chain(db.engine)
    with db.reading() as conn:
        assert conn.execute(select(func.count()).select_from(t.record_link)).scalar_one() == MAX_PROBLEMS + 5
    assert len(report.problems) == MAX_PROBLEMS + 1
    assert report.problems[-1] == f"... and more: the walk stopped after {MAX_PROBLEMS} problems"
    db.close()
