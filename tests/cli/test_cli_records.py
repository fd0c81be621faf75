"""The record commands as a user runs them: import, trace, verify-chain, exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from fillfloor.cli import main
from supervisor.storage import AuditRecord, CheckRecord, FillRecord, RefusalRecord, open_database
from supervisor.storage import schema as t
from supervisor.storage.database import open_read_only
from supervisor.storage.repository import store
from tests.support.cli_run import GOOD, HEADER, run, store_fills


def test_import_is_idempotent_and_trace_shows_the_archive(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cyl.csv"
    f.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    assert run(capsys, "registry", "import", str(f), "--unit", "HY0012", "--db", db_url)[0] == 0
    code, out, _ = run(capsys, "registry", "import", str(f), "--db", db_url)  # the unit is stored
    assert code == 0
    assert "0 new or changed" in out
    code, out, _ = run(capsys, "trace", "HY00120000123", "--json", "--db", db_url)
    assert code == 0
    assert json.loads(out)["archive"]["tare_kg"] in ("15.2", "15.200")


def test_every_bad_row_is_listed_with_its_line_and_nothing_is_imported(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cyl.csv"
    f.write_text(
        HEADER
        + GOOD[0]
        + "HY00120000125,HY0012,YSP99,15.2,2019-05-01,2023-06-01,,in_service\n"  # line 3
        + "HY00120000126,HY0012,YSP35.5,15.2,2019-02-30,2023-06-01,,in_service\n"  # line 4
        + GOOD[0]  # line 5: duplicate
        + "HY00990000001,HY0099,YSP35.5,15.2,2019-05-01,2023-06-01,,in_service\n",  # line 6
        encoding="utf-8",
    )
    code, _, err = run(capsys, "registry", "import", str(f), "--unit", "HY0012", "--db", db_url)
    assert code == 2
    assert "4 bad row(s), nothing imported" in err
    for line, field in [(3, "model"), (4, "manufactured"), (5, "code"), (6, "owner")]:
        assert f"line {line}: {field}:" in err
    code, out, _ = run(capsys, "trace", "HY00120000123", "--db", db_url)
    assert code == 1
    assert "no archive" in out


def test_toml_import_names_table_lines(tmp_path: Path, sqlite_url: str, capsys) -> None:
    f = tmp_path / "cyl.toml"
    f.write_text(
        '[[cylinder]]\ncode = "HY00120000123"\nowner = "HY0012"\nmodel = "YSP35.5"\ntare_kg = 15.2\n'
        '\n[[cylinder]]\ncode = "HY00120000124"\nowner = "HY0012"\nmodel = "YSP35.5"\ntare_kg = "x"\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, "registry", "import", str(f), "--unit", "HY0012", "--db", sqlite_url)
    assert code == 2
    assert "line 7: tare_kg:" in err


def test_import_without_a_unit_asks_for_one(tmp_path: Path, sqlite_url: str, capsys) -> None:
    f = tmp_path / "cyl.csv"
    f.write_text(HEADER + GOOD[0], encoding="utf-8")
    code, _, err = run(capsys, "registry", "import", str(f), "--db", sqlite_url)
    assert code == 2
    assert "--unit" in err


def test_operators_import(tmp_path: Path, db_url: str, capsys) -> None:
    f = tmp_path / "ops.csv"
    f.write_text("id,name,certificate_expires\nOP01,张三,2027-01-01\nOP02,李四,2027-13-01\n", "utf-8")
    code, _, err = run(capsys, "operators", "import", str(f), "--db", db_url)
    assert code == 2
    assert "line 3: certificate_expires:" in err
    f.write_text("id,name,certificate_expires\nOP01,张三,2027-01-01\n", "utf-8")
    assert run(capsys, "operators", "import", str(f), "--db", db_url)[0] == 0


def test_verify_chain_passes_then_names_the_altered_record(db_url: str, capsys) -> None:
    store_fills(db_url, 3)
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)
    assert (code, "3 record(s)" in out) == (0, True)
    db = open_database(db_url)
    with db.transaction() as conn:
        conn.execute(update(t.fill).where(t.fill.c.seq == 2).values(station="S9"))
    db.close()
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)
    assert code == 1
    assert "fill #2 (rec-2) was altered" in out


def test_verify_chain_names_a_deleted_record(db_url: str, capsys) -> None:
    store_fills(db_url, 3)
    db = open_database(db_url)
    with db.transaction() as conn:
        conn.execute(delete(t.fill).where(t.fill.c.seq == 3))
    db.close()
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)
    assert code == 1
    assert "fill #3 is missing" in out


def _checks_and_commands(db_url: str) -> None:
    """Two fills, and between them what checkers and the console did: a pre-fill check, a refusal,
    the supervisor's command."""
    store_fills(db_url, 2)
    db = open_database(db_url)
    with db.transaction() as conn:
        store(conn, CheckRecord("chk-1", "HY00120000123", "pre", "pass", "CK01", "2026-11-23T07:50:00+00:00"))
        store(conn, RefusalRecord("ref-1", "S1", ("precheck.missing",), "2026-11-23T07:52:00+00:00",
                                  "HY00120000124"))  # fmt: skip
        store(conn, AuditRecord("2026-11-23T07:53:00+00:00", "SV01", "supervisor", "pause", "ok", "S1"))
    db.close()


def test_verify_chain_passes_a_floor_with_checks_and_commands(db_url: str, capsys) -> None:
    _checks_and_commands(db_url)
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)
    assert code == 0
    assert out.splitlines() == ["fill chain intact: 2 record(s)", "record chain intact: 3 record(s)"]


def test_verify_chain_names_a_deleted_pre_fill_check_and_an_edited_command(db_url: str, capsys) -> None:
    _checks_and_commands(db_url)
    db = open_database(db_url)
    with db.transaction() as conn:
        conn.execute(delete(t.check_record).where(t.check_record.c.record_id == "chk-1"))
        conn.execute(update(t.console_audit).values(who="CK01"))
    db.close()
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)
    assert code == 1
    assert out.splitlines() == [
        "fill chain intact: 2 record(s)",
        "record chain BROKEN after 0 good record(s): record #1 (check_record chk-1) is missing: its row was "
        "deleted",
        "  record #3 (console_audit 1) was altered: its fields differ from its content (who)",
    ]  # fmt: skip


def test_bad_database_url_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "verify-chain", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    assert code == 2
    assert "cannot open the database" in err


def test_help_lists_the_commands(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("registry", "operators", "trace", "verify-chain"):
        assert name in out


def test_verify_chain_names_an_inserted_record(db_url: str, capsys) -> None:
    store_fills(db_url, 2)
    db = open_database(db_url)
    with db.transaction() as conn:
        store(conn, FillRecord(record_id="rec-3", cylinder="HY00120000123", station="S1", operator="OP01",
                               outcome="completed", started_at="2026-11-23T08:00:00+00:00",
                               ended_at="2026-11-23T08:01:00+00:00"))  # fmt: skip
        conn.execute(update(t.chain_head).values(seq=2))  # as if rec-3 were slipped in afterwards
    db.close()
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)
    assert code == 1
    assert "fill #3 (rec-3) was inserted" in out


def test_trace_prints_the_history_in_time_order(db_url: str, tmp_path: Path, capsys) -> None:
    f = tmp_path / "cyl.toml"
    f.write_text('[[cylinder]]\ncode = "HY00120000123"\nowner = "HY0012"\nmodel = "YSP35.5"\n'
                 'tare_kg = 15.2\nnext_inspection = 2027-06-01\n', encoding="utf-8")  # fmt: skip
    assert run(capsys, "registry", "import", str(f), "--unit", "HY0012", "--db", db_url)[0] == 0
    code, _, err = run(capsys, "registry", "import", str(f), "--unit", "HY0099", "--db", db_url)
    assert code == 2
    assert "belongs to unit HY0012" in err
    db = open_database(db_url)
    with db.transaction() as conn:
        store(conn, FillRecord(record_id="rec-1", cylinder="HY00120000123", station="S1", operator="OP01",
                               outcome="aborted", started_at="2026-11-23T08:00:00+00:00",
                               ended_at="2026-11-23T08:01:00+00:00",
                               reason="fill.stalled"))  # fmt: skip
        store(conn, CheckRecord("chk-1", "HY00120000123", "pre", "pass", "CK01", "2026-11-23T07:50:00+00:00"))
    db.close()
    code, out, _ = run(capsys, "trace", "HY00120000123", "--db", db_url)
    assert code == 0
    lines = out.splitlines()
    assert "YSP35.5" in lines[0]
    assert "tare 15.2" in lines[0]
    assert ["check" in lines[1], "fill" in lines[2], "fill.stalled" in lines[2]] == [True] * 3
    code, out, _ = run(capsys, "trace", "HY00120000123", "--json", "--db", db_url)
    assert [e["kind"] for e in json.loads(out)["events"]] == ["check", "fill"]


@pytest.mark.parametrize("argv", [["verify-chain"], ["trace", "HY00120000123"], ["user", "list"]])
def test_a_reading_command_on_a_mistyped_path_creates_nothing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "flor.db"
    code, out, err = run(capsys, *argv, "--db", f"sqlite:///{typo}")
    assert (code, out) == (2, "")
    assert f"no database at {typo}" in err
    code, _, err = run(capsys, *argv, "--data-dir", str(tmp_path / "dat"))
    assert code == 2
    assert "no database at" in err
    assert list(tmp_path.iterdir()) == []  # no file, no directory: nothing "intact" to find later


def test_verify_chain_reads_a_backup_without_changing_a_byte(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_fills(db_url, 3)
    code, out, _ = run(capsys, "verify-chain", "--db", db_url)  # (PostgreSQL: a read-only session)
    assert code == 0
    assert "fill chain intact: 3 record(s)" in out
    reader = open_read_only(db_url)
    try:  # (what reading commands open refuses any write, on either database)
        with pytest.raises(DBAPIError), reader.engine.begin() as conn:
            conn.execute(delete(t.fill))
    finally:
        reader.close()
    if not db_url.startswith("sqlite"):
        return
    backup = tmp_path / "backup.db"
    assert run(capsys, "db", "backup", "--to", str(backup), "--db", db_url)[0] == 0
    before = backup.read_bytes()
    code, out, _ = run(capsys, "verify-chain", "--db", f"sqlite:///{backup}")
    assert code == 0
    assert "fill chain intact: 3 record(s)" in out
    assert backup.read_bytes() == before
    assert sorted(p.name for p in tmp_path.glob("backup.db*")) == ["backup.db"]  # (no -wal, -shm)
