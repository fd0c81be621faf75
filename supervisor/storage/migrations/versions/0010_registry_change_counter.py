"""registry_change: a counter of registry changes, so that a running floor sees an import

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

`fillfloor registry import` and `fillfloor operators import` run in another process than the
floor. Each change to the archives or operators bumps this one row's count in its own transaction;
the floor polls it and reloads the registry when it moved (supervisor/registry_watch.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "registry_change",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_change")),
    )
    op.bulk_insert(table, [{"id": 1, "count": 0}])


def downgrade() -> None:
    op.drop_table("registry_change")
