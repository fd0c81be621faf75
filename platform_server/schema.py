"""The platform's tables (SQLAlchemy Core), apart from the floor's: a platform database is its own.

Times are ISO 8601 UTC text (GB/T 7408) as the floor stores them; masses exact decimals; record
payloads the JSON the floor sent, kept as sent (the fill chain is verified from them). Changes go
through a new Alembic migration of the platform's own (platform_server/migrations, run when the
store opens: platform_server/migrate.py).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)

__all__ = ["NAMING_CONVENTION", "metadata"]

# Constraint names that are the same on SQLite and PostgreSQL (migrations can name them); the same
# rule as the floor's, so that names read alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)
KG = Numeric(10, 3, asdecimal=True)

# Who may call: filling units (their id is the unit code), inspection agencies, the regulator.
# `key` is the HMAC secret itself: the platform must hold it to check signatures, so the platform
# database is as secret as the keys (docs/platform-api.md).
party = Table(
    "party",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # unit | agency | regulator
    Column("name", String(128), nullable=False),
    Column("key", String(128), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)

unit = Table(
    "unit",
    metadata,
    Column("code", String(32), primary_key=True),  # 单位代码
    Column("short_name", String(64), nullable=False),  # 单位简称
    Column("enabled", Boolean, nullable=False),  # false: the regulator disabled its filling
    Column("reason", Text, nullable=False, server_default=""),
)

station = Table(
    "station",
    metadata,
    Column("unit", String(32), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
)

# Replay protection: a nonce is remembered until its request's timestamp leaves the window.
nonce = Table(
    "nonce",
    metadata,
    Column("party", String(64), primary_key=True),
    Column("nonce", String(128), primary_key=True),
    Column("expires", Integer, nullable=False, index=True),
)

# Uploaded records, one row per record id (the idempotency key, unique across units). `digest` is
# the sha256 of the canonical kind + payload: a resend with the same digest is a duplicate, with
# another a conflict. The other columns are copied out of the payload for queries.
record = Table(
    "record",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("unit", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # fill | check | refusal | alarm
    Column("payload", JSON, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("cylinder_code", String(64), index=True),
    Column("station", String(32)),
    Column("at", String(40), nullable=False),  # the record's own time (a fill: ended_at)
    Column("seq", Integer),  # a fill's place in its unit's chain
    Column("received_at", String(40), nullable=False),
    Index("ix_record_unit_kind_seq", "unit", "kind", "seq"),
)

# The cylinder archive (docs/platform-api.md), the truth the units' registries sync from.
archive = Table(
    "archive",
    metadata,
    Column("code", String(64), primary_key=True),  # 钢瓶条码号
    Column("owner", String(32), nullable=False, index=True),
    Column("model", String(16), nullable=False),
    Column("tare_kg", KG),
    Column("manufactured", Date),
    Column("last_inspection", Date),
    Column("next_inspection", Date),
    Column("scrap_date", Date),
    Column("status", String(16), nullable=False),
    Column("blocked", Boolean, nullable=False, server_default="0"),
    Column("manufacturer", String(128), nullable=False, server_default=""),
    Column("serial", String(64), nullable=False, server_default=""),
    Column("property_no", String(64), nullable=False, server_default=""),
    Column("volume_l", KG),
    Column("inspection_unit", String(128), nullable=False, server_default=""),
    Column("photos", JSON, nullable=False),  # content hashes, in archive order
    Column("registered_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# Photos of the stamped marks, the label and the inspection ring, stored by content hash.
photo = Table(
    "photo",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("uploaded_by", String(64), nullable=False),
    Column("at", String(40), nullable=False),
)

inspection = Table(
    "inspection",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cylinder_code", String(64), nullable=False, index=True),
    Column("inspected_on", Date, nullable=False),
    Column("result", String(8), nullable=False),  # pass | fail
    Column("next_inspection", Date),
    Column("agency", String(128), nullable=False),
    Column("party", String(64), nullable=False),
    Column("report_no", String(64), nullable=False, server_default=""),
    Column("at", String(40), nullable=False),
)

# Property transfers (产权转移): the previous owner is kept.
transfer = Table(
    "transfer",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cylinder_code", String(64), nullable=False, index=True),
    Column("from_unit", String(32), nullable=False),
    Column("to_unit", String(32), nullable=False),
    Column("document", String(128), nullable=False, server_default=""),
    Column("at", String(40), nullable=False),
)

# A receiving unit's transfer request, pending until the owner accepts it (state pending|accepted).
transfer_request = Table(
    "transfer_request",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cylinder_code", String(64), nullable=False),
    Column("from_unit", String(32), nullable=False, index=True),
    Column("to_unit", String(32), nullable=False),
    Column("document", String(128), nullable=False, server_default=""),
    Column("state", String(16), nullable=False),
    Column("at", String(40), nullable=False),
)

operator = Table(
    "operator",
    metadata,
    Column("unit", String(32), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("certificate_expires", Date, nullable=False),
    Column("certificate_no", String(64), nullable=False, server_default=""),
)

# What the regulator did, who and why (also the changes it caused, in `change`).
regulator_action = Table(
    "regulator_action",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("party", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("target", String(128), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("at", String(40), nullable=False),
)

# The registry change log the units pull by cursor. `seq` comes from `change_head`, read FOR
# UPDATE in the writing transaction: changes commit in `seq` order even with several writers,
# so a reader past cursor N never misses a change that commits later with a smaller number.
change = Table(
    "change",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("unit", String(32), nullable=False),  # the unit the change concerns
    Column("type", String(16), nullable=False),  # archive | inspection | operator | station | unit
    Column("cause", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", String(40), nullable=False),
    Index("ix_change_unit_seq", "unit", "seq"),
)

change_head = Table(
    "change_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
)
