"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, database `test`) that these machines and CI
run; each test gets its own schema, dropped afterwards. Where no server answers, the PostgreSQL
variant is skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432 (database test): {exc}".strip()


@pytest.fixture(scope="session")
def pg_unavailable() -> str | None:
    return _pg_unavailable()


@pytest.fixture
def pg_url(pg_unavailable: str | None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of its own."""
    if pg_unavailable:
        pytest.skip(pg_unavailable)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'floor.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on both databases."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(name)
