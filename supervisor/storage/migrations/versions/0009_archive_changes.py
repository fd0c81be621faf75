"""archive_change: a filled cylinder's tare or model changed by an import, accepted on the record

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

The tare and the model set a cylinder's fill target. An import that changes them for a cylinder
already filled is refused unless someone accepts the change (`fillfloor registry import
--accept-changes --by NAME --why TEXT`); each accepted change is kept here, one row a field, with
who accepted it, why and when, and `fillfloor trace CODE` shows it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cylinder_code", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("old_value", sa.String(64), nullable=True),
        sa.Column("new_value", sa.String(64), nullable=True),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_change")),
    )
    op.create_index(op.f("ix_archive_change_cylinder_code"), "archive_change", ["cylinder_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_archive_change_cylinder_code"), table_name="archive_change")
    op.drop_table("archive_change")
