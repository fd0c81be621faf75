"""Alembic migrations, run automatically when a database is opened.

A program's migration scripts live inside its package (`migrations/`), so an installed floor or
platform needs no alembic.ini, and upgrading an up-to-date database is a no-op. `Migrations` is
one such set of scripts; the floor's are `FLOOR` here, the platform's `platform_server.migrate`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from attrs import frozen
from sqlalchemy import Connection, Engine, MetaData, text

__all__ = [
    "FLOOR",
    "Migrations",
    "alembic_config",
    "current_revision",
    "head_revision",
    "run_under_lock",
    "upgrade",
]


@frozen
class Migrations:
    scripts: Path  # the folder of env.py and versions/

    def alembic_config(self, engine: Engine) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.scripts))
        cfg.attributes["engine"] = engine  # (env.py migrates on this engine, not on a URL of its own)
        return cfg

    def upgrade(self, engine: Engine) -> None:
        command.upgrade(self.alembic_config(engine), "head")

    def head_revision(self) -> str | None:
        return ScriptDirectory(str(self.scripts)).get_current_head()


def run_under_lock(
    metadata: MetaData, lock_key: int, before: Callable[[Connection], None] | None = None
) -> None:
    """An env.py's body: the whole upgrade in one transaction taken under a lock, so that processes
    opening the same new database at once migrate it once (the others wait, then find it at head).
    SQLite: the transaction begins IMMEDIATE (engine.py), which is the lock. PostgreSQL: a
    transaction-scoped advisory lock on `lock_key`, a number of the program's own. `before` runs
    under the lock before the migrations (the platform stamps a database older than its scripts)."""
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        )
        if before is not None:
            before(connection)
        context.run_migrations()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


FLOOR = Migrations(Path(__file__).with_name("migrations"))
alembic_config, upgrade, head_revision = FLOOR.alembic_config, FLOOR.upgrade, FLOOR.head_revision
