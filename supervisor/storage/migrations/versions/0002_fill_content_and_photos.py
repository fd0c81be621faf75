"""fill content and content hash stored; archive photos by position

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

The fill's canonical content and its sha256 are stored beside the chain hash, so a record can be
checked on its own; rows already there get them computed from their columns (the chain hash does
not change). Photos are the archive's ordered content hashes: the table had a `kind` the archive
does not carry, and nothing had been stored in it yet, so it is made again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from supervisor.storage.chain import GENESIS, canonical_content, content_hash

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KG = sa.Numeric(10, 3, asdecimal=True)
# The fill table as 0001 left it, as far as the chain is concerned.
_fill = sa.table(
    "fill",
    sa.column("seq", sa.Integer), sa.column("record_id", sa.String), sa.column("cylinder_code", sa.String),
    sa.column("station", sa.String), sa.column("operator_id", sa.String), sa.column("outcome", sa.String),
    sa.column("reason", sa.String), sa.column("tare_kg", KG), sa.column("target_kg", KG),
    sa.column("gross_kg", KG), sa.column("net_kg", KG), sa.column("error_g", sa.Integer),
    sa.column("flags", sa.JSON), sa.column("started_at", sa.String), sa.column("ended_at", sa.String),
    sa.column("content", sa.Text), sa.column("content_hash", sa.String),
)  # fmt: skip


def upgrade() -> None:
    op.add_column("fill", sa.Column("content", sa.Text(), nullable=True))
    op.add_column("fill", sa.Column("content_hash", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    for row in bind.execute(sa.select(_fill)).mappings().all():
        content = canonical_content(row)
        bind.execute(
            sa.update(_fill)
            .where(_fill.c.seq == row["seq"])
            .values(content=content, content_hash=content_hash(content))
        )
    with op.batch_alter_table("fill") as batch_op:
        batch_op.alter_column("content", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("content_hash", existing_type=sa.String(length=64), nullable=False)

    # The chain head always exists from now on, so that appenders can lock it (SELECT … FOR UPDATE)
    # even before the first fill: two first fills at once then queue instead of colliding.
    _head = sa.table("chain_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer),
                     sa.column("hash", sa.String))  # fmt: skip
    if bind.execute(sa.select(_head.c.id)).first() is None:
        bind.execute(sa.insert(_head).values(id=1, seq=0, hash=GENESIS))

    op.drop_index(op.f("ix_cylinder_photo_cylinder_code"), table_name="cylinder_photo")
    op.drop_table("cylinder_photo")
    op.create_table(
        "cylinder_photo",
        sa.Column("cylinder_code", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cylinder_code"], ["cylinder.code"], name=op.f("fk_cylinder_photo_cylinder_code_cylinder")
        ),
        sa.PrimaryKeyConstraint("cylinder_code", "position", name=op.f("pk_cylinder_photo")),
    )


def downgrade() -> None:
    op.drop_table("cylinder_photo")
    op.create_table(
        "cylinder_photo",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cylinder_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cylinder_code"], ["cylinder.code"], name=op.f("fk_cylinder_photo_cylinder_code_cylinder")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cylinder_photo")),
        sa.UniqueConstraint("cylinder_code", "kind", "content_hash", name="uq_cylinder_photo_content"),
    )
    op.create_index(op.f("ix_cylinder_photo_cylinder_code"), "cylinder_photo", ["cylinder_code"])
    with op.batch_alter_table("fill") as batch_op:
        batch_op.drop_column("content_hash")
        batch_op.drop_column("content")
