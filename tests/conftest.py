"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432 (trust auth, database `test`) that these machines and CI
run; each test gets its own schema, dropped afterwards. Where no server answers, the PostgreSQL
variant is skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from simulator.pg_schema import pg_schema_url
from simulator.pg_schema import pg_unavailable as _pg_unavailable

# Hypothesis: the default profile in `make test` (or "ci", which Hypothesis loads by itself where the
# CI variable is set); `HYPOTHESIS_PROFILE=long` (`make fuzz`) runs every property with 20 times the
# examples. The fuzz properties size their own budgets from it (`tests/support/strategies.py: examples`).
# No per-example deadline anywhere (the "ci" profile has none either): it is a wall-clock assertion,
# and an example of test_config's took over 200 ms once while benchmarks held both cores.
settings.register_profile("dev", deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif not os.environ.get("CI"):
    settings.load_profile("dev")


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
