"""fill details (gross before, preact used, pre-check relied on); post-fill check bound to its fill

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The coordinator records what a fill was decided on (issue #5): the stable reading before the
permit, the preact the cut-off used and the pre-fill check the permit relied on. They join the
chained content only when set (chain.CHAIN_FIELDS_IF_SET), so fills stored before keep their hash.
A post-fill check names the fill it follows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KG = sa.Numeric(10, 3, asdecimal=True)


def upgrade() -> None:
    with op.batch_alter_table("fill") as batch_op:
        batch_op.add_column(sa.Column("gross_before_kg", KG, nullable=True))
        batch_op.add_column(sa.Column("preact_kg", KG, nullable=True))
        batch_op.add_column(sa.Column("precheck_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("check_record") as batch_op:
        batch_op.add_column(sa.Column("fill_record_id", sa.String(length=64), nullable=True))
        batch_op.create_index(op.f("ix_check_record_fill_record_id"), ["fill_record_id"])


def downgrade() -> None:
    with op.batch_alter_table("check_record") as batch_op:
        batch_op.drop_index(op.f("ix_check_record_fill_record_id"))
        batch_op.drop_column("fill_record_id")
    with op.batch_alter_table("fill") as batch_op:
        batch_op.drop_column("precheck_id")
        batch_op.drop_column("preact_kg")
        batch_op.drop_column("gross_before_kg")
