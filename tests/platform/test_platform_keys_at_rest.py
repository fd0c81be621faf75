"""The platform's party keys at rest (issue 19): a read of its database yields no key. They are
sealed under the platform secret, a file of its own; keys an older platform kept in plain text are
sealed in place and go on working; a missing, wrong or exposed secret stops the platform at start
with one line, rather than refusing every party later."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from fillfloor.cli import main
from platform_client.auth import SigningAuth
from platform_server import PlatformApp, open_store, running_platform
from platform_server import schema as t
from platform_server.key_seal import KeySeal, SecretProblem, read_secret_file


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def database_bytes(directory: Path) -> bytes:
    """Everything on disk of the SQLite database: the file, its WAL and shared memory."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("platform.db*")))


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
    old_keys = {f"HY{n:04d}": f"ffk_{n:04d}" + "o" * 39 for n in range(12, 40)}  # as kept before
    store = open_store(db, None)
    with store.transaction() as conn:
        for party, key in old_keys.items():
            row = {"id": party, "kind": "unit", "name": "衡阳燃气", "key": key, "created_at": "2026-01-01"}
            conn.execute(insert(t.party).values(**row))
    store.close()
    assert all(key.encode() in database_bytes(tmp_path) for key in old_keys.values())

    code, _, err = run(capsys, "platform", "party", "add", "AG01", "--kind", "agency",
                       "--db", db, "--secret-file", str(secret))  # fmt: skip
    assert code == 0, err
    on_disk = database_bytes(tmp_path)
    assert [p for p, key in old_keys.items() if key.encode() in on_disk] == []  # not even a free page
    # The floor keeps the key it was given: its requests still authenticate.
    assert await answers(db, read_secret_file(secret), "HY0012", old_keys["HY0012"]) == 200


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
