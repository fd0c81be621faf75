"""Transfer requests: a receiving unit's request waits for the owner's acceptance.

Revision ID: p0002
Revises: p0001
Create Date: 2026-12-05 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "p0002"
down_revision = "p0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made by `metadata.create_all` before the migrations (stamped p0001) may hold it.
    if sa.inspect(op.get_bind()).has_table("transfer_request"):
        return
    op.create_table(
        "transfer_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cylinder_code", sa.String(length=64), nullable=False),
        sa.Column("from_unit", sa.String(length=32), nullable=False),
        sa.Column("to_unit", sa.String(length=32), nullable=False),
        sa.Column("document", sa.String(length=128), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_request")),
    )
    with op.batch_alter_table("transfer_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_request_from_unit"), ["from_unit"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transfer_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_request_from_unit"))
    op.drop_table("transfer_request")
