"""The platform's party keys at rest (issue 19): a read of its database yields no key. They are
sealed under the platform secret, a file of its own; keys an older platform kept in plain text are
sealed in place and go on working; a missing, wrong or exposed secret stops the platform at start
with one line, rather than refusing every party later."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from fillfloor.cli import main
from platform_client.auth import SigningAuth
from platform_client.signing import HEADER_REPLY_SIGNATURE
from platform_server import PlatformApp, open_store, running_platform
from platform_server import schema as t
from platform_server.key_seal import KeySeal, SecretProblem, create_secret_file, read_secret_file
from platform_server.parties import add_party, add_unit, find_party, reseal_keys
from tests.support.platform_env import UNIT, platform_env
from tests.support.waiting import wait_until


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def database_bytes(directory: Path) -> bytes:
    """Everything on disk of the SQLite database: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("platform.db*")))


def plain_keys_as_before(db: str, count: int) -> dict[str, str]:
    """`count` units whose keys are in plain text, as a platform kept them before keys were sealed."""
    old_keys = {f"HY{n:04d}": f"ffk_{n:04d}" + "o" * 39 for n in range(12, 12 + count)}
    store = open_store(db, None)
    with store.transaction() as conn:
        for party, key in old_keys.items():
            row = {"id": party, "kind": "unit", "name": "衡阳燃气", "key": key, "created_at": "2026-01-01"}
            conn.execute(insert(t.party).values(**row))
    store.close()
    return old_keys


async def answers(db: str, seal: KeySeal, party: str, key: str) -> int:
    store = open_store(db, seal)
    try:
        async with (
            running_platform(PlatformApp(store)) as url,
            httpx.AsyncClient(base_url=url, auth=SigningAuth(party, key)) as client,
        ):
            return (await client.get("/v1/me")).status_code
    finally:
        store.close()


async def test_a_read_of_the_platform_database_yields_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, secret = f"sqlite:///{tmp_path / 'platform.db'}", tmp_path / "etc" / "platform.secret"
    code, out, err = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气",
                         "--db", db, "--secret-file", str(secret))  # fmt: skip
    assert code == 0
    assert f"made the platform secret {secret}" in err
    unit_key = out.strip()
    code, out, _ = run(capsys, "platform", "party", "add", "REG", "--kind", "regulator",
                       "--db", db, "--secret-file", str(secret))  # fmt: skip
    regulator_key = out.strip()
    assert code == 0
    assert unit_key.startswith("ffk_")
    assert regulator_key.startswith("ffk_")
    assert secret.stat().st_mode & 0o777 == 0o600
    on_disk = database_bytes(tmp_path)
    assert b"ffk_" not in on_disk  # neither key, nor any part of one that says it is a key
    assert unit_key.encode() not in on_disk
    assert regulator_key.encode() not in on_disk
    assert await answers(db, read_secret_file(secret), "HY0012", unit_key) == 200
    assert await answers(db, read_secret_file(secret), "REG", regulator_key) == 200


async def test_keys_an_older_platform_kept_in_plain_text_are_sealed_and_still_sign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, secret = f"sqlite:///{tmp_path / 'platform.db'}", tmp_path / "platform.secret"
    old_keys = plain_keys_as_before(db, 28)
    assert all(key.encode() in database_bytes(tmp_path) for key in old_keys.values())

    code, _, err = run(capsys, "platform", "party", "add", "AG01", "--kind", "agency",
                       "--db", db, "--secret-file", str(secret))  # fmt: skip
    assert code == 0, err
    on_disk = database_bytes(tmp_path)
    assert [p for p, key in old_keys.items() if key.encode() in on_disk] == []  # not even a free page
    # The floor keeps the key it was given: its requests still authenticate.
    assert await answers(db, read_secret_file(secret), "HY0012", old_keys["HY0012"]) == 200


def party_table_bytes(url: str) -> bytes:
    """The party table's file as PostgreSQL keeps it on disk, after a checkpoint has written it
    there (a server on this machine whose files the tests may read, else the test is skipped)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            try:
                conn.execute(text("CHECKPOINT"))
            except DBAPIError:
                pytest.skip("the PostgreSQL user may not CHECKPOINT: the table's file cannot be looked at")
            path = conn.execute(
                text("SELECT current_setting('data_directory') || '/' || pg_relation_filepath('party')")
            ).scalar_one()
    finally:
        engine.dispose()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        pytest.skip(
            f"PostgreSQL's files are not readable here ({exc.strerror}): the table cannot be looked at"
        )


async def test_on_postgresql_no_dead_row_keeps_a_plain_key_either(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_keys = plain_keys_as_before(pg_url, 8)
    assert all(key.encode() in party_table_bytes(pg_url) for key in old_keys.values())

    secret = tmp_path / "platform.secret"
    code, _, err = run(capsys, "platform", "party", "add", "AG01", "--kind", "agency",
                       "--db", pg_url, "--secret-file", str(secret))  # fmt: skip
    assert code == 0, err
    on_disk = party_table_bytes(pg_url)
    assert b"AG01" in on_disk  # (the file looked at is the table's)
    assert [p for p, key in old_keys.items() if key.encode() in on_disk] == []
    assert await answers(pg_url, read_secret_file(secret), "HY0012", old_keys["HY0012"]) == 200


def test_a_missing_wrong_or_exposed_secret_is_one_line_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, secret = f"sqlite:///{tmp_path / 'platform.db'}", tmp_path / "platform.secret"
    add = ("platform", "party", "add", "AG01", "--kind", "agency", "--db", db)
    assert run(capsys, *add, "--secret-file", str(secret))[0] == 0

    # Missing: not silently replaced by a new secret, which would lock every party out.
    elsewhere = tmp_path / "lost.secret"
    code, _, err = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气", "--db", db,
                       "--secret-file", str(elsewhere))  # fmt: skip
    assert code == 2
    assert f"no platform secret at {elsewhere}" in err
    assert not elsewhere.exists()

    # Another platform's secret: named at start, with the party whose key it does not open.
    other = tmp_path / "other.secret"
    other.write_text(bytes(range(32)).hex() + "\n")
    other.chmod(0o600)
    code, _, err = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气", "--db", db,
                       "--secret-file", str(other))  # fmt: skip
    assert code == 2
    assert "does not open the key of party 'AG01'" in err

    # Readable by others: refused, with what to do.
    secret.chmod(0o644)
    code, _, err = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气", "--db", db,
                       "--secret-file", str(secret))  # fmt: skip
    assert code == 2
    assert f"chmod 600 {secret}" in err
    assert len(err.strip().splitlines()) == 1


def test_a_secret_that_cannot_be_made_is_one_line_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'platform.db'}"
    (tmp_path / "etc").write_text("a file where the secret's directory should be\n")
    secret = tmp_path / "etc" / "platform.secret"
    code, _, err = run(capsys, "platform", "party", "add", "AG01", "--kind", "agency", "--db", db,
                       "--secret-file", str(secret))  # fmt: skip
    assert code == 2
    assert f"cannot make the platform secret {secret}" in err
    assert len(err.strip().splitlines()) == 1


def test_a_secret_is_never_made_over_another_and_appears_whole(tmp_path: Path) -> None:
    path = tmp_path / "platform.secret"
    first = create_secret_file(path)
    made = path.read_text()
    with pytest.raises(FileExistsError):
        create_secret_file(path)  # (the command then reads the one made first)
    assert path.read_text() == made
    assert read_secret_file(path).open("HY0012", first.seal("HY0012", "ffk_k")) == "ffk_k"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["platform.secret"]  # nothing left aside
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_sealed_key_opens_only_for_its_own_party_and_only_unchanged() -> None:
    seal = KeySeal.generate()
    sealed = seal.seal("HY0012", "ffk_secret")
    assert seal.open("HY0012", sealed) == "ffk_secret"
    assert seal.seal("HY0012", "ffk_secret") != sealed  # a fresh nonce every time
    with pytest.raises(SecretProblem, match="HY0013"):
        seal.open("HY0013", sealed)  # copied into another party's row
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretProblem):
        seal.open("HY0012", tampered)
    with pytest.raises(SecretProblem):
        KeySeal.generate().open("HY0012", sealed)  # another platform's secret


async def test_a_leaked_key_is_replaced_and_stops_working_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, secret = f"sqlite:///{tmp_path / 'platform.db'}", str(tmp_path / "platform.secret")
    code, old_key, _ = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气",
                           "--db", db, "--secret-file", secret)  # fmt: skip
    assert code == 0
    code, new_key, _ = run(
        capsys, "platform", "party", "rekey", "HY0012", "--db", db, "--secret-file", secret
    )
    assert code == 0
    assert new_key.strip().startswith("ffk_")
    seal = read_secret_file(Path(secret))
    assert await answers(db, seal, "HY0012", new_key.strip()) == 200
    assert await answers(db, seal, "HY0012", old_key.strip()) == 401

    code, _, err = run(capsys, "platform", "party", "rekey", "HY0099", "--db", db, "--secret-file", secret)
    assert (code, err.strip()) == (2, "fillfloor: no party 'HY0099' on this platform")


async def test_a_new_platform_secret_seals_the_same_keys_and_the_old_one_opens_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, old, new = f"sqlite:///{tmp_path / 'platform.db'}", tmp_path / "old.secret", tmp_path / "new.secret"
    code, key, _ = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气",
                       "--db", db, "--secret-file", str(old))  # fmt: skip
    assert code == 0
    rotate = ("platform", "secret", "rotate", "--db", db, "--secret-file", str(old))
    code, _, err = run(capsys, *rotate, "--new-secret-file", str(new))
    assert code == 0, err
    assert "1 party key(s) sealed under" in err
    assert new.stat().st_mode & 0o777 == 0o600
    assert await answers(db, read_secret_file(new), "HY0012", key.strip()) == 200  # the floor changes nothing
    with pytest.raises(SecretProblem, match="HY0012"):
        open_store(db, read_secret_file(old))

    # Run again (its command died after the commit, say): it finds the keys sealed, changes nothing.
    code, _, err = run(capsys, *rotate, "--new-secret-file", str(new))
    assert code == 0, err
    assert "1 party key(s) sealed under" in err
    assert "(1 were already)" in err
    assert await answers(db, read_secret_file(new), "HY0012", key.strip()) == 200

    # Where no secret can be made, or the secret in use: one line, nothing changed.
    (tmp_path / "etc").write_text("a file, not a directory\n")
    for there, why in (
        (tmp_path / "etc" / "s", "cannot make the platform secret"),
        (old, "is the secret in use"),
        (tmp_path / "sub" / ".." / "old.secret", "is the secret in use"),
    ):
        code, _, err = run(capsys, *rotate, "--new-secret-file", str(there))
        assert code == 2
        assert why in err
        assert len(err.strip().splitlines()) == 1
    # The secret in use by another name (a link to it, a copy): refused too, not "rotated" to itself.
    (tmp_path / "same.secret").symlink_to(new)
    (tmp_path / "copy.secret").write_text(new.read_text())
    (tmp_path / "copy.secret").chmod(0o600)
    from_new = ("platform", "secret", "rotate", "--db", db, "--secret-file", str(new))
    for alias in (tmp_path / "same.secret", tmp_path / "copy.secret"):
        code, _, err = run(capsys, *from_new, "--new-secret-file", str(alias))
        assert code == 2
        assert "the secret in use" in err
    assert await answers(db, read_secret_file(new), "HY0012", key.strip()) == 200


def test_a_key_is_never_sealed_under_a_secret_rotated_since_the_command_read_it(sqlite_url: str) -> None:
    old, new = KeySeal.generate(), KeySeal.generate()
    store = open_store(sqlite_url, old)  # a `unit add` has read the secret in use ...
    try:
        with store.transaction() as conn:
            add_party(conn, old, "AG01", "agency", "衡阳市特检所")
            assert reseal_keys(conn, old, new) == (1, 0)  # ... and a `secret rotate` commits first
        with store.transaction() as conn, pytest.raises(SecretProblem, match="AG01"):
            add_unit(conn, old, "HY0012", "衡阳燃气")
        with store.reading() as conn:
            assert find_party(conn, "HY0012") is None  # not under a secret no other key is under
    finally:
        store.close()


async def test_a_running_platform_whose_secret_was_rotated_says_so_and_answers_503(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with platform_env(sqlite_url) as env:
        with env.app.store.transaction() as conn:
            reseal_keys(conn, env.app.store.seal, KeySeal.generate())  # `secret rotate`, no restart
        async with env.client(UNIT) as client:
            r = await client.get("/v1/me")
    assert (r.status_code, r.json()["error"]) == (503, "platform.unavailable")
    assert HEADER_REPLY_SIGNATURE not in r.headers
    assert any("restart it with the secret in use" in m for m in caplog.messages)


def test_a_rotation_says_when_a_reader_kept_the_old_keys_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server, an export or a backup reading the platform's SQLite file keeps its write-ahead log,
    which holds the keys as sealed before: the rotation says so instead of claiming them gone."""
    db, old, new = f"sqlite:///{tmp_path / 'platform.db'}", tmp_path / "old.secret", tmp_path / "new.secret"
    add = (
        "platform",
        "unit",
        "add",
        "HY0012",
        "--short-name",
        "衡阳燃气",
        "--db",
        db,
        "--secret-file",
        str(old),
    )
    assert run(capsys, *add)[0] == 0
    reader = sqlite3.connect(tmp_path / "platform.db")
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM party").fetchone()  # (an open snapshot)
        code, _, err = run(capsys, "platform", "secret", "rotate", "--db", db, "--secret-file", str(old),
                           "--new-secret-file", str(new))  # fmt: skip
    finally:
        reader.close()
    assert code == 0, err
    assert "could not be rewritten now (a reader kept the write-ahead log from being emptied)" in err


def test_on_postgresql_a_key_command_waits_for_a_rotation_under_way_then_refuses(pg_url: str) -> None:
    """Two commands on two connections: a `unit add` that read the secret while a `secret rotate`
    was sealing the keys waits for the rotation's transaction (LOCK TABLE), then finds its secret
    rotated away and refuses. Without the lock it does not wait (this test fails there): it reads the
    keys as they were before the rotation committed, which its secret still opens."""
    old, new = KeySeal.generate(), KeySeal.generate()
    rotating, adding = open_store(pg_url, old), open_store(pg_url, old)
    outcome: list[BaseException | str] = []

    def add() -> None:
        try:
            with adding.transaction() as conn:
                outcome.append(add_unit(conn, old, "HY0012", "衡阳燃气"))
        except BaseException as exc:  # (handed to the test's thread)
            outcome.append(exc)

    try:
        with rotating.transaction() as conn:
            add_party(conn, old, "AG01", "agency", "衡阳市特检所")
        adder = threading.Thread(target=add)
        with rotating.transaction() as conn:
            assert reseal_keys(conn, old, new) == (1, 0)
            adder.start()
            waiting = (
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND query LIKE 'LOCK TABLE%'"
            )

            def seen_waiting() -> bool:
                # (a transaction of its own each time: within one, pg_stat_activity stays as first read)
                with rotating.reading() as watch:
                    return bool(watch.execute(text(waiting)).scalar())

            wait_until(seen_waiting)  # (the unit add waits for the rotation)
            assert not outcome
        adder.join(timeout=30)
        assert len(outcome) == 1
        assert isinstance(outcome[0], SecretProblem), outcome
        with rotating.reading() as conn:
            assert find_party(conn, "HY0012") is None
    finally:
        rotating.close()
        adding.close()
