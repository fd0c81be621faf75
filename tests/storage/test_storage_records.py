"""Records and registry on both databases: round trips, atomic fill + outbox, the outbox's life, trace."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest
from sqlalchemy import func, select

from domain.archive import CylinderArchive, Operator
from domain.fill_guard import StationLearning
from supervisor.storage import (
    AuditRecord,
    CheckRecord,
    Database,
    FillRecord,
    LearningRecord,
    RefusalRecord,
    open_database,
    verify_chain,
)
from supervisor.storage import schema as t
from supervisor.storage.registry import put_station_setting
from supervisor.storage.repository import (
    dead_letter,
    dead_letters,
    get_cursor,
    load_archive,
    load_archives,
    load_learning,
    load_operators,
    mark_failed,
    mark_sent,
    outbox_backlog,
    pending_outbox,
    record_inspection,
    set_cursor,
    store,
    upsert_archives,
    upsert_operators,
)
from supervisor.storage.trace import trace_cylinder

ARCHIVE = CylinderArchive(
    code="HY00120000123", owner="HY0012", model="YSP35.5", tare_kg=Decimal("15.2"),
    manufactured=dt.date(2019, 5, 1), last_inspection=dt.date(2023, 6, 1),
    next_inspection=dt.date(2027, 6, 1), manufacturer="某钢瓶厂", serial="A123",
    volume_l=Decimal("35.5"), photos=("a" * 64, "b" * 64),
)  # fmt: skip


def fill(rid: str, ended: str = "2026-11-23T08:05:00.000+00:00") -> FillRecord:
    return FillRecord(record_id=rid, cylinder=ARCHIVE.code, station="S1", operator="OP01",
                      outcome="completed", started_at="2026-11-23T08:04:00.000+00:00", ended_at=ended,
                      tare_kg=Decimal("15.2"), net_kg=Decimal("14.51"))  # fmt: skip


@pytest.fixture
def db(db_url: str) -> Database:
    db = open_database(db_url)
    yield db
    db.close()


def _count(db: Database, table: object) -> int:
    with db.reading() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()  # type: ignore[arg-type]


def test_archives_with_photos_and_operators_round_trip_and_reimport_changes_nothing(db: Database) -> None:
    op = Operator("OP01", "张三", dt.date(2027, 1, 1), "TS-001")
    with db.transaction() as conn:
        assert upsert_archives(conn, [ARCHIVE]) == 1
        assert upsert_operators(conn, [op]) == 1
    with db.transaction() as conn:
        assert upsert_archives(conn, [ARCHIVE]) == 0
        assert upsert_operators(conn, [op]) == 0
        assert load_archives(conn) == {ARCHIVE.code: ARCHIVE}
        assert load_operators(conn) == {"OP01": op}
    changed = attrs.evolve(ARCHIVE, blocked=True, photos=("c" * 64,))
    with db.transaction() as conn:
        assert upsert_archives(conn, [changed]) == 1
    with db.reading() as conn:
        assert load_archive(conn, ARCHIVE.code) == changed


def test_an_inspection_moves_the_next_date_and_shows_in_the_trace(db: Database) -> None:
    with db.transaction() as conn:
        upsert_archives(conn, [ARCHIVE])
        record_inspection(conn, ARCHIVE.code, dt.date(2027, 5, 20), "pass", dt.date(2031, 5, 20), "检验所")
        set_cursor(conn, "c-42")
    with db.reading() as conn:
        archive = load_archive(conn, ARCHIVE.code)
        assert archive is not None
        assert (archive.next_inspection, archive.inspection_unit) == (dt.date(2031, 5, 20), "检验所")
        assert get_cursor(conn) == "c-42"
        assert [e.kind for e in trace_cylinder(conn, ARCHIVE.code)[1]] == ["inspection"]


def test_a_fill_whose_outbox_row_fails_is_not_stored(db: Database) -> None:
    with db.transaction() as conn:
        store(conn, CheckRecord("shared-id", ARCHIVE.code, "pre", "pass", "CK01", "2026-11-23T07:59:00Z"))
    # The fill's own insert succeeds (no fill has this id); its outbox insert then fails.
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.transaction() as conn:
        store(conn, fill("shared-id"))
    assert _count(db, t.fill) == 0
    assert _count(db, t.outbox) == 1
    assert verify_chain(db.engine).ok


def test_the_outbox_lifecycle(db: Database) -> None:
    with db.transaction() as conn:
        for n in range(4):
            store(conn, fill(f"f{n}"))
        store(conn, RefusalRecord("r1", "S1", ["cylinder.in_use"], "2026-11-23T08:10:00Z", ARCHIVE.code))
        store(conn, AuditRecord("2026-11-23T08:11:00Z", "ann", "supervisor", "pause", "ok", "S1"))
    with db.transaction() as conn:
        items = pending_outbox(conn)
        assert [(i.record_id, i.kind) for i in items] == [
            ("f0", "fill"), ("f1", "fill"), ("f2", "fill"), ("f3", "fill"), ("r1", "refusal"),
        ]  # fmt: skip
        assert items[0].payload["net_kg"] == "14.51"
        assert items[1].payload["prev_hash"] == items[0].payload["hash"]  # the platform can chain them
        assert mark_sent(conn, ["f0", "f1"]) == 2
        mark_failed(conn, ["f2"], next_try_at="2026-11-23T09:00:00.000+00:00")
        dead_letter(conn, "r1", "unknown station S1")
    with db.reading() as conn:
        due_now = pending_outbox(conn, now="2026-11-23T08:30:00.000+00:00")
        assert [i.record_id for i in due_now] == ["f3"]
        later = pending_outbox(conn, now="2026-11-23T09:00:00.000+00:00")
        assert [(i.record_id, i.attempts) for i in later] == [("f2", 1), ("f3", 0)]
        assert outbox_backlog(conn) == 2
        assert [(d.record_id, d.dead_letter) for d in dead_letters(conn)] == [("r1", "unknown station S1")]
    assert _count(db, t.console_audit) == 1


def test_trace_lists_everything_in_time_order(db: Database) -> None:
    with db.transaction() as conn:
        upsert_archives(conn, [ARCHIVE])
        store(conn, CheckRecord("c1", ARCHIVE.code, "pre", "pass", "CK01", "2026-11-23T07:59:00+00:00"))
        store(conn, fill("f1", ended="2026-11-23T08:05:00.000+00:00"))
        store(conn, RefusalRecord("r1", "S1", ("cylinder.in_use",), "2026-11-23T07:58:00Z", ARCHIVE.code))
        store(conn, CheckRecord("c2", ARCHIVE.code, "post", "pass", "CK01", "2026-11-23T03:06:00-05:00"))
    with db.reading() as conn:
        archive, entries = trace_cylinder(conn, ARCHIVE.code)
    assert archive is not None
    assert (archive["owner"], archive["photos"]) == ("HY0012", ["a" * 64, "b" * 64])
    # 03:06-05:00 is 08:06 UTC: after the fill, whatever the notation.
    assert [e.kind for e in entries] == ["refusal", "check", "fill", "check"]


def test_what_a_station_learned_is_kept_per_station(db: Database) -> None:
    learned = StationLearning(Decimal("0.305"), 1.98, 2.31, Decimal("0.001"), 0.004, fills=12)
    with db.transaction() as conn:
        assert load_learning(conn, ["S1"]) == {}
        store(conn, LearningRecord("S1", StationLearning(Decimal("0.312"), fills=1)))
        store(conn, LearningRecord("S1", learned))
        store(conn, LearningRecord("S2", StationLearning(Decimal("0.2"), fills=1)))
    with db.reading() as conn:
        assert load_learning(conn, ["S1", "S2", "S3"]) == {
            "S1": learned,
            "S2": StationLearning(Decimal("0.2"), fills=1),
        }


def test_a_preact_stored_before_the_fill_guard_counts_as_learned_from_one_fill(db: Database) -> None:
    with db.transaction() as conn:
        put_station_setting(conn, "S1", "preact_kg", "0.280")
    with db.reading() as conn:
        assert load_learning(conn, ["S1"]) == {"S1": StationLearning(Decimal("0.280"), fills=1)}


def test_records_refuse_values_outside_their_vocabulary() -> None:
    with pytest.raises(ValueError, match="outcome"):
        attrs.evolve(fill("x"), outcome="done")
    with pytest.raises(ValueError, match="phase"):
        CheckRecord("c", ARCHIVE.code, "during", "pass", "CK01", "2026-11-23T08:00:00Z")
