"""Alembic environment: the engine comes from the caller (supervisor.storage.migrate).

The whole upgrade is one transaction taken under a lock, so that processes opening the same new
database at once migrate it once: the others wait, then find it at head. SQLite: the transaction
begins IMMEDIATE (engine.py), which is the lock. PostgreSQL: a transaction-scoped advisory lock.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from supervisor.storage.schema import metadata

# Any fixed 64-bit number, the same in every fillfloor process ("fillfloo" in ASCII).
MIGRATION_LOCK = 0x66696C6C666C6F6F

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    context.run_migrations()
