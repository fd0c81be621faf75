"""Opening a database: migrations at open, idempotent, safe when processes race, upgrades with data."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text, update

from supervisor.storage import open_database, verify_chain
from supervisor.storage import schema as t
from supervisor.storage.chain import GENESIS, canonical_content, link_hash
from supervisor.storage.engine import make_engine
from supervisor.storage.migrate import alembic_config, current_revision, head_revision
from supervisor.storage.verify import verify_record_chain

ROOT = Path(__file__).resolve().parents[2]


def test_fresh_database_is_migrated_and_reopening_is_a_no_op(db_url: str) -> None:
    db = open_database(db_url)
    assert current_revision(db.engine) == head_revision()
    db.close()
    db = open_database(db_url)
    assert current_revision(db.engine) == head_revision()
    with db.reading() as conn:
        assert compare_metadata(MigrationContext.configure(conn), t.metadata) == []  # code = migrations
    db.close()


def test_default_is_a_durable_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    db = open_database(None, tmp_path / "data")
    assert (tmp_path / "data" / "fillfloor.db").is_file()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.close()


def test_processes_opening_a_new_database_at_once_all_succeed(db_url: str) -> None:
    code = f"from supervisor.storage import open_database; open_database({db_url!r}).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    db = open_database(db_url)
    assert current_revision(db.engine) == head_revision()
    with db.reading() as conn:
        # One head per chain (the fills', the other records'), each made once.
        assert conn.execute(text("select id from chain_head order by id")).scalars().all() == [1, 2]
    db.close()


def test_upgrade_keeps_an_existing_chain_valid(db_url: str) -> None:
    """A floor on the first schema, with fills, upgrades at open and its chain still verifies."""
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0001")
    prev = GENESIS
    with engine.begin() as conn:
        for seq in (1, 2, 3):
            row = {
                "seq": seq, "record_id": f"old-{seq}", "cylinder_code": "HY00120000123", "station": "S1",
                "operator_id": "OP01", "outcome": "completed", "reason": None,
                "tare_kg": Decimal("15.2"), "target_kg": Decimal("29.7"), "gross_kg": Decimal("29.71"),
                "net_kg": Decimal("14.51"), "error_g": 10, "flags": [],
                "started_at": "2026-11-23T08:00:00.000+00:00", "ended_at": "2026-11-23T08:01:00.000+00:00",
            }  # fmt: skip
            digest = link_hash(prev, canonical_content(row))
            conn.execute(text(
                "insert into fill (seq, record_id, cylinder_code, station, operator_id, outcome, reason, "
                "tare_kg, target_kg, gross_kg, net_kg, error_g, flags, started_at, ended_at, prev_hash, hash)"
                " values (:seq, :record_id, :cylinder_code, :station, :operator_id, :outcome, :reason, "
                ":tare_kg, :target_kg, :gross_kg, :net_kg, :error_g, '[]', :started_at, :ended_at, :p, :h)"
            ), {**{k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()},
                "p": prev, "h": digest})  # fmt: skip
            prev = digest
        conn.execute(insert(t.chain_head).values(id=1, seq=3, hash=prev))
    engine.dispose()

    db = open_database(db_url)
    report = verify_chain(db.engine)
    assert (report.ok, report.count) == (True, 3), report.problem
    with db.reading() as conn:
        assert conn.execute(select(t.fill.c.content).where(t.fill.c.seq == 2)).scalar_one().startswith("{")
    db.close()


def test_upgrade_chains_the_records_already_stored_in_their_time_order(db_url: str) -> None:
    """A floor on 0007 with checks, refusals, alarms and console commands upgrades at open: they
    join the record chain in the order of their times, and an edit made afterwards is caught."""
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0007")
    at = "2026-11-23T08:0{}:00.000+00:00".format
    stored = [
        (t.console_audit, {"at": at(3), "who": "SV01", "role": "supervisor", "command": "pause",
                           "result": "ok"}),
        (t.check_record, {"record_id": "chk-1", "cylinder_code": "HY00120000123", "phase": "pre",
                          "result": "pass", "items": {"valve": "ok"}, "checker": "CK01", "at": at(0)}),
        (t.refusal, {"record_id": "ref-1", "station": "S1", "reasons": ["precheck.missing"], "at": at(1)}),
        (t.alarm, {"record_id": "alm-1", "alarm_id": "A1", "kind": "fill.overfill", "severity": "high",
                   "message": "超装", "event": "raised", "at": at(2)}),
    ]  # fmt: skip
    with engine.begin() as conn:
        for table, row in stored:
            conn.execute(insert(table).values(row))
    engine.dispose()

    db = open_database(db_url)
    report = verify_record_chain(db.engine)
    assert (report.ok, report.count) == (True, 4), report.problem
    with db.reading() as conn:
        order = conn.execute(select(t.record_link.c.record_table, t.record_link.c.record_key)
                             .order_by(t.record_link.c.seq)).all()  # fmt: skip
    assert [tuple(row) for row in order] == [
        ("check_record", "chk-1"),
        ("refusal", "ref-1"),
        ("alarm", "alm-1"),
        ("console_audit", "1"),
    ]
    with db.transaction() as conn:
        conn.execute(update(t.check_record).values(checker="CK99"))
    assert verify_record_chain(db.engine).first_bad_record_id == "chk-1"
    db.close()
