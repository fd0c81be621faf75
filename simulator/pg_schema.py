"""A PostgreSQL schema of its own, dropped afterwards: the PostgreSQL of the tests, the benchmarks and
the simulations (here, below them all, so the tests need not import the benchmarks).

The server is the one at 127.0.0.1:5432 (trust auth, database `test`) that these machines and CI run.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

__all__ = ["PG_DSN", "PG_SERVER", "pg_schema_url", "pg_unavailable"]

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at 127.0.0.1:5432 (database test): {exc}".strip()


@contextlib.contextmanager
def pg_schema_url(prefix: str = "t") -> Iterator[str]:
    """A SQLAlchemy URL whose search_path is a fresh schema, dropped when the block ends."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
