"""fill_open: a marker per fill whose valve may be open

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

A fill's marker is made durable before its valve's permit is energised and deleted in the
transaction of the fill's record. A supervisor killed during a fill (SIGKILL, power cut) leaves
the marker; the next start records that fill as interrupted (supervisor/storage/interrupted.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_KG = sa.Numeric(10, 3, asdecimal=True)


def upgrade() -> None:
    op.create_table(
        "fill_open",
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("station", sa.String(32), nullable=False),
        sa.Column("cylinder_code", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.String(64)),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("tare_kg", _KG),
        sa.Column("target_kg", _KG),
        sa.Column("gross_before_kg", _KG),
        sa.Column("preact_kg", _KG),
        sa.Column("precheck_id", sa.String(64)),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_fill_open")),
    )


def downgrade() -> None:
    op.drop_table("fill_open")
