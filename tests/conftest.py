"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, database `test`) that these machines and CI
run; each test gets its own schema, dropped afterwards. Where no server answers, the PostgreSQL
variant is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.pg_schema import pg_schema_url
from benchmarks.pg_schema import pg_unavailable as _pg_unavailable


@pytest.fixture(scope="session")
def pg_unavailable() -> str | None:
    return _pg_unavailable()


@pytest.fixture
def pg_url(pg_unavailable: str | None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of its own."""
    if pg_unavailable:
        pytest.skip(pg_unavailable)
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'floor.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs on both databases."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(name)
