"""`fillfloor user`: tokens shown once, stored hashed, revoked for good."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fillfloor.cli import main
from supervisor.storage import open_database
from supervisor.storage import schema as t
from supervisor.storage.users import find_user


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_user_gets_a_token_that_finds_them_until_revoked(db_url: str, capsys) -> None:
    code, out, _ = run(capsys, "user", "add", "王班长", "--role", "supervisor", "--db", db_url)
    assert code == 0
    token = out.strip()
    assert len(token) >= 32
    db = open_database(db_url)
    with db.reading() as conn:
        user = find_user(conn, token)
        stored = conn.execute(select(t.console_user.c.token_hash)).scalar_one()
    assert user is not None
    assert (user.name, user.role) == ("王班长", "supervisor")
    assert token not in stored  # only the hash is kept
    code, out, _ = run(capsys, "user", "list", "--db", db_url)
    assert "王班长\tsupervisor\t-\tactive" in out
    assert run(capsys, "user", "revoke", "王班长", "--db", db_url)[0] == 0
    with db.reading() as conn:
        assert find_user(conn, token) is None
    db.close()
    code, _, err = run(capsys, "user", "revoke", "王班长", "--db", db_url)
    assert code == 2
    assert "no active user" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--role", "operator"], "needs --station"), (["--role", "root"], "invalid choice")],
)
def test_bad_user_input_is_refused_with_the_reason(
    sqlite_url: str, capsys, argv: list[str], message: str
) -> None:
    try:
        code, _, err = run(capsys, "user", "add", "x", *argv, "--db", sqlite_url)
    except SystemExit as exc:  # argparse's own usage error
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 2
    assert message in err


def test_a_name_is_taken_once(sqlite_url: str, capsys) -> None:
    assert (
        run(capsys, "user", "add", "OP1", "--role", "operator", "--station", "S1", "--db", sqlite_url)[0] == 0
    )
    code, _, err = run(capsys, "user", "add", "OP1", "--role", "viewer", "--db", sqlite_url)
    assert code == 2
    assert "exists" in err


def test_a_token_is_rotated_and_a_revoked_name_can_be_added_again(sqlite_url: str, capsys) -> None:
    old = run(capsys, "user", "add", "王班长", "--role", "supervisor", "--db", sqlite_url)[1].strip()
    code, _, err = run(capsys, "user", "add", "王班长", "--role", "supervisor", "--db", sqlite_url)
    assert code == 2
    assert "user rotate 王班长" in err  # (says how to get a new token)
    code, out, _ = run(capsys, "user", "rotate", "王班长", "--db", sqlite_url)
    assert code == 0
    new = out.strip()
    db = open_database(sqlite_url)
    with db.reading() as conn:
        assert find_user(conn, old) is None  # the old token stops working at once
        rotated = find_user(conn, new)
    assert rotated is not None
    assert rotated.name == "王班长"
    assert run(capsys, "user", "revoke", "王班长", "--db", sqlite_url)[0] == 0
    assert run(capsys, "user", "rotate", "王班长", "--db", sqlite_url)[0] == 2  # (revoked: no token)
    code, out, _ = run(capsys, "user", "add", "王班长", "--role", "viewer", "--db", sqlite_url)
    assert code == 0
    with db.reading() as conn:
        again = find_user(conn, out.strip())
        assert find_user(conn, new) is None
    db.close()
    assert again is not None
    assert (again.name, again.role, again.revoked_at) == ("王班长", "viewer", None)
