"""The platform's first schema: the one `metadata.create_all` made before the platform had
migrations, so that a database made that way is this revision (it is stamped so: ../env.py).

Revision ID: p0001
Revises:
Create Date: 2026-12-04 21:19:15.801221
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "p0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("tare_kg", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("manufactured", sa.Date(), nullable=True),
        sa.Column("last_inspection", sa.Date(), nullable=True),
        sa.Column("next_inspection", sa.Date(), nullable=True),
        sa.Column("scrap_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("blocked", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("manufacturer", sa.String(length=128), server_default="", nullable=False),
        sa.Column("serial", sa.String(length=64), server_default="", nullable=False),
        sa.Column("property_no", sa.String(length=64), server_default="", nullable=False),
        sa.Column("volume_l", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("inspection_unit", sa.String(length=128), server_default="", nullable=False),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_archive")),
    )
    with op.batch_alter_table("archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_archive_owner"), ["owner"], unique=False)

    op.create_table(
        "change",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change")),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.create_index("ix_change_unit_seq", ["unit", "seq"], unique=False)

    op.create_table(
        "change_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_head")),
    )
    op.create_table(
        "inspection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cylinder_code", sa.String(length=64), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("next_inspection", sa.Date(), nullable=True),
        sa.Column("agency", sa.String(length=128), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("report_no", sa.String(length=64), server_default="", nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection")),
    )
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inspection_cylinder_code"), ["cylinder_code"], unique=False)

    op.create_table(
        "nonce",
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("party", "nonce", name=op.f("pk_nonce")),
    )
    with op.batch_alter_table("nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nonce_expires"), ["expires"], unique=False)

    op.create_table(
        "operator",
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("certificate_expires", sa.Date(), nullable=False),
        sa.Column("certificate_no", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("unit", "id", name=op.f("pk_operator")),
    )
    op.create_table(
        "party",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party")),
    )
    op.create_table(
        "photo",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_photo")),
    )
    op.create_table(
        "record",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("cylinder_code", sa.String(length=64), nullable=True),
        sa.Column("station", sa.String(length=32), nullable=True),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record")),
        sa.UniqueConstraint("record_id", name=op.f("uq_record_record_id")),
    )
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_cylinder_code"), ["cylinder_code"], unique=False)
        batch_op.create_index("ix_record_unit_kind_seq", ["unit", "kind", "seq"], unique=False)

    op.create_table(
        "regulator_action",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regulator_action")),
    )
    op.create_table(
        "station",
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("unit", "id", name=op.f("pk_station")),
    )
    op.create_table(
        "transfer",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cylinder_code", sa.String(length=64), nullable=False),
        sa.Column("from_unit", sa.String(length=32), nullable=False),
        sa.Column("to_unit", sa.String(length=32), nullable=False),
        sa.Column("document", sa.String(length=128), server_default="", nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer")),
    )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_cylinder_code"), ["cylinder_code"], unique=False)

    op.create_table(
        "unit",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("short_name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_unit")),
    )


def downgrade() -> None:
    op.drop_table("unit")
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_cylinder_code"))

    op.drop_table("transfer")
    op.drop_table("station")
    op.drop_table("regulator_action")
    with op.batch_alter_table("record", schema=None) as batch_op:
        batch_op.drop_index("ix_record_unit_kind_seq")
        batch_op.drop_index(batch_op.f("ix_record_cylinder_code"))

    op.drop_table("record")
    op.drop_table("photo")
    op.drop_table("party")
    op.drop_table("operator")
    with op.batch_alter_table("nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonce_expires"))

    op.drop_table("nonce")
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspection_cylinder_code"))

    op.drop_table("inspection")
    op.drop_table("change_head")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index("ix_change_unit_seq")

    op.drop_table("change")
    with op.batch_alter_table("archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archive_owner"))

    op.drop_table("archive")
