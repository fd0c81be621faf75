"""Alembic environment of the platform's database: the engine comes from the caller
(platform_server.migrate), the upgrade runs under a lock of its own (`run_under_lock`, as the
floor's), and a database made before the platform had migrations is stamped first."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, inspect

from platform_server.schema import metadata
from supervisor.storage.migrate import run_under_lock

# The revision whose schema `metadata.create_all` made before the platform had migrations.
BEFORE_MIGRATIONS = "p0001"
# Any fixed 64-bit number, the same in every platform process ("platform" in ASCII).
MIGRATION_LOCK = 0x706C6174666F726D


def _stamp_a_database_older_than_its_migrations(connection: Connection) -> None:
    tables = inspect(connection)
    if tables.has_table("party") and not tables.has_table("alembic_version"):
        # It holds that first revision's schema; stamped so, it upgrades like any other from there.
        context.get_context().stamp(context.script, BEFORE_MIGRATIONS)


run_under_lock(metadata, MIGRATION_LOCK, before=_stamp_a_database_older_than_its_migrations)
