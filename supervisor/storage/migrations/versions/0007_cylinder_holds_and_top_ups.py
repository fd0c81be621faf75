"""cylinder_hold: holds that survive a restart; fill.topup_of: a top-up bound to its first fill

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

A hold keeps a cylinder from filling until something is done about it: an overfill's excess
removed, a failed post-fill check handled, a missing post-fill check recorded. They lived only in
memory: a restart forgot them and the cylinder could be filled again. A top-up of an under-filled
cylinder names the fill it completes (part of the fill's chained content when set, so earlier
fills keep their hashes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cylinder_hold",
        sa.Column("cylinder_code", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("since", sa.String(40), nullable=False),
        sa.Column("station", sa.String(32)),
        sa.Column("fill_record_id", sa.String(64)),
        sa.PrimaryKeyConstraint("cylinder_code", "kind", name=op.f("pk_cylinder_hold")),
    )
    for table in ("fill", "fill_open"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("topup_of", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in ("fill", "fill_open"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("topup_of")
    op.drop_table("cylinder_hold")
