"""Alembic environment of the floor's database: the engine comes from the caller
(supervisor.storage.migrate), the upgrade runs under its lock (`run_under_lock`)."""

from __future__ import annotations

from supervisor.storage.migrate import run_under_lock
from supervisor.storage.schema import metadata

# Any fixed 64-bit number, the same in every fillfloor process ("fillfloo" in ASCII).
MIGRATION_LOCK = 0x66696C6C666C6F6F

run_under_lock(metadata, MIGRATION_LOCK)
