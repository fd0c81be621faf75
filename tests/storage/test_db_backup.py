"""`fillfloor db backup`: a consistent copy of a database another process keeps writing.

The floor's records are written by a real second process (tests/support/floor_writer.py) while the real CLI
backs the database up; the copy must open, hold every record committed before the backup began,
and pass `verify-chain`. Copying the file instead (shutil.copy) fails this: records still in the
write-ahead log are missing from the copy.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, func, make_url, select

from fillfloor.cli import main
from simulator.pg_schema import PG_DSN
from supervisor.storage import open_database
from supervisor.storage import schema as t
from supervisor.storage.backup import pg_dump_command
from supervisor.storage.repository import store
from tests.support.fill_records import fill

REPO = Path(__file__).resolve().parents[2]
FILLFLOOR = [sys.executable, "-m", "fillfloor.cli"]


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FILLFLOOR, *argv], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=120)  # fmt: skip


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A process committing fills into tmp_path/data/fillfloor.db until the stop file appears."""
    db_file = tmp_path / "data" / "fillfloor.db"
    open_database(None, db_file.parent).close()  # migrated before the writer and the backup race
    stop = tmp_path / "stop"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.floor_writer", f"sqlite:///{db_file}", str(stop)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc, stop
    finally:
        stop.touch()
        proc.wait(timeout=60)
        assert proc.stdout is not None
        proc.stdout.close()


def _committed_at_least(proc: subprocess.Popen[str], n: int) -> int:
    """Read the writer's output until fill `n` is committed; the last sequence number it printed."""
    assert proc.stdout is not None
    seq = 0
    while seq < n:
        line = proc.stdout.readline()
        assert line, f"the writer stopped at fill {seq} (exit {proc.poll()})"
        seq = int(line)
    return seq


def _record_ids(db_file: Path, table: str) -> set[str]:
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(t.metadata.tables[table].c.record_id)).scalars())
    finally:
        engine.dispose()


def test_a_backup_taken_while_the_floor_writes_holds_every_earlier_record_and_verifies(
    tmp_path: Path, writer: tuple[subprocess.Popen[str], Path]
) -> None:
    proc, stop = writer
    before = _committed_at_least(proc, 300)  # every fill up to this one was committed before the backup
    backup = tmp_path / "backup.db"
    done = _cli("db", "backup", "--to", str(backup), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    during = _committed_at_least(proc, before + 1)  # the floor was not stopped by the backup
    stop.touch()
    assert proc.wait(timeout=60) == 0

    assert "backup written:" in done.stdout
    assert "fill chain intact" in done.stdout
    assert not backup.with_name("backup.db-wal").exists()  # one self-contained file
    fills, checks = _record_ids(backup, "fill"), _record_ids(backup, "check_record")
    assert {f"fill-{n:04d}" for n in range(1, before + 1)} <= fills
    # Each transaction's fill and check are both in the copy or both not: no half transaction.
    assert {r.removeprefix("fill-").lstrip("0") for r in fills} == {r.removeprefix("check-") for r in checks}
    verified = _cli("verify-chain", "--db", f"sqlite:///{backup}")
    assert verified.returncode == 0, verified.stdout
    assert f"fill chain intact: {len(fills)} record(s)" in verified.stdout
    assert during > before
    # And the floor's own database is intact after it all.
    assert _cli("verify-chain", "--data-dir", str(tmp_path / "data")).returncode == 0


def test_a_backup_never_overwrites_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    open_database(None, tmp_path / "data").close()
    existing = tmp_path / "old-backup.db"
    existing.write_bytes(b"the only good backup")
    assert main(["db", "backup", "--to", str(existing), "--data-dir", str(tmp_path / "data")]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert existing.read_bytes() == b"the only good backup"


def test_without_pg_dump_the_message_says_what_to_install_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump on it
    db = "postgresql+psycopg://floor:secret@db.plant/fillfloor"
    assert main(["db", "backup", "--to", str(tmp_path / "b.dump"), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "pg_dump is not installed" in err
    assert "pg_dump --format=custom" in err
    assert "secret" not in err
    assert not (tmp_path / "b.dump").exists()


def test_pg_dump_connects_as_the_floor_does_and_dumps_the_floors_schema() -> None:
    url = ("postgresql+psycopg://floor:s3cret@db.plant:5433/fillfloor?sslmode=verify-full"
           "&sslrootcert=/etc/fillfloor/ca.pem&options=-c%20search_path%3Dfloor2,public")  # fmt: skip
    command, env = pg_dump_command(url, Path("/backup/f.dump"))
    assert command[:4] == ["pg_dump", "--format=custom", "--file", "/backup/f.dump"]
    assert command[4:6] == ["--schema", "floor2"]
    target = make_url(command[-1])
    assert (target.drivername, target.host, target.port, target.database) == ("postgresql", "db.plant", 5433,
                                                                             "fillfloor")  # fmt: skip
    assert dict(target.query) == {"sslmode": "verify-full", "sslrootcert": "/etc/fillfloor/ca.pem"}
    assert "s3cret" not in " ".join(command)  # ps shows the command line
    assert env["PGPASSWORD"] == "s3cret"


def test_a_password_in_the_urls_query_goes_to_pg_dump_in_its_environment_too() -> None:
    command, env = pg_dump_command("postgresql://floor@db.plant/fillfloor?password=s3cret&sslmode=require",
                                   Path("/backup/f.dump"))  # fmt: skip
    assert "s3cret" not in " ".join(command)
    assert dict(make_url(command[-1]).query) == {"sslmode": "require"}
    assert env["PGPASSWORD"] == "s3cret"


def test_a_postgresql_backup_restores_with_pg_restore_and_verifies(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = open_database(pg_url)
    with db.transaction() as conn:
        for n in range(1, 8):
            store(conn, fill(n))
    db.close()
    dump = tmp_path / "floor.dump"
    assert main(["db", "backup", "--to", str(dump), "--db", pg_url]) == 0
    assert "pg_restore" in capsys.readouterr().out

    schema = pg_url.rpartition("%3D")[2]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')  # the database is lost
    server = "postgresql://postgres@127.0.0.1:5432/test"
    restored = subprocess.run(["pg_restore", "--dbname", server, str(dump)], capture_output=True, text=True,
                              check=False)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert main(["verify-chain", "--db", pg_url]) == 0
    assert "fill chain intact: 7 record(s)" in capsys.readouterr().out
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.outbox)).scalar_one() == 7
    finally:
        engine.dispose()
