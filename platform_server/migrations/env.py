"""Alembic environment of the platform's database: the engine comes from the caller
(platform_server.migrate), as the floor's does (supervisor/storage/migrations/env.py).

The whole upgrade is one transaction taken under a lock, so that processes opening the same new
database at once migrate it once. SQLite: the transaction begins IMMEDIATE (the engine's recipe),
which is the lock. PostgreSQL: a transaction-scoped advisory lock, its key apart from the floor's.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import inspect, text

from platform_server.schema import metadata

# The revision whose schema `metadata.create_all` made before the platform had migrations.
BEFORE_MIGRATIONS = "p0001"
# Any fixed 64-bit number, the same in every platform process ("platform" in ASCII).
MIGRATION_LOCK = 0x706C6174666F726D

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    tables = inspect(connection)
    if tables.has_table("party") and not tables.has_table("alembic_version"):
        # A platform database created before its migrations: it holds that first revision's
        # schema; stamped so, it upgrades like any other from there.
        context.get_context().stamp(context.script, BEFORE_MIGRATIONS)
    context.run_migrations()
