"""The platform's own schema and migrations: a new database is migrated to head and matches the
platform's metadata; one made before the platform had migrations is recognised and keeps its data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from platform_server import schema as t
from platform_server.migrate import current_revision, head_revision
from platform_server.store import open_store
from supervisor.storage.engine import make_engine

ROOT = Path(__file__).resolve().parents[2]


def test_a_new_platform_database_is_migrated_and_equals_the_metadata(db_url: str) -> None:
    store = open_store(db_url, None)
    try:
        assert current_revision(store.engine) == head_revision() == "p0002"
        with store.reading() as conn:
            assert compare_metadata(MigrationContext.configure(conn), t.metadata) == []  # code = migrations
            assert conn.execute(select(t.change_head.c.seq)).scalar_one() == 0
    finally:
        store.close()
    store = open_store(db_url, None)  # reopening: a no-op
    store.close()


def test_a_database_made_before_the_migrations_is_stamped_and_keeps_its_records(db_url: str) -> None:
    engine = make_engine(db_url)
    t.metadata.create_all(engine)  # how the platform made its tables before it had migrations
    party = {"id": "HY0012", "kind": "unit", "name": "Unit", "key": "k" * 32, "created_at": "2026-11-23"}
    with engine.begin() as conn:
        conn.execute(insert(t.party).values(party))
    assert not inspect(engine).has_table("alembic_version")
    engine.dispose()

    store = open_store(db_url, None)
    try:
        assert current_revision(store.engine) == head_revision()
        with store.reading() as conn:
            assert conn.execute(select(t.party.c.id)).scalars().all() == ["HY0012"]
            assert compare_metadata(MigrationContext.configure(conn), t.metadata) == []
    finally:
        store.close()


def test_processes_opening_a_new_platform_database_at_once_all_succeed(db_url: str) -> None:
    code = f"from platform_server.store import open_store; open_store({db_url!r}, None).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 3, errors
    store = open_store(db_url, None)
    try:
        assert current_revision(store.engine) == head_revision()
        with store.reading() as conn:
            assert conn.execute(select(t.change_head.c.id)).scalars().all() == [1]
    finally:
        store.close()
