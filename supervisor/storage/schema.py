"""The floor's tables (SQLAlchemy Core). Changes go through a new Alembic migration.

Times are ISO 8601 UTC text (GB/T 7408) so that a record's canonical content, and with it the
fill chain's hashes, is the same on SQLite and PostgreSQL. Masses are exact decimals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from domain.records import FillOpened, FillRecord
from supervisor.storage.record_rows import KG, record_columns

__all__ = ["FILL_CHAIN", "KG", "NAMING_CONVENTION", "RECORD_CHAIN", "archive_columns", "metadata"]

# Constraint names that are the same on SQLite and PostgreSQL (migrations can name them).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

filling_unit = Table(
    "filling_unit",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("short_name", String(64), nullable=False, server_default=""),
)


def archive_columns(*, index_owner: bool = False) -> list[Column[Any]]:
    """The cylinder archive's columns as the floor keeps them (table `cylinder`; docs/domain.md,
    Archive fields); the platform's `archive` is its own, in its own schema (platform_server/schema.py)."""
    return [
        Column("code", String(64), primary_key=True),  # 钢瓶条码号
        Column("owner", String(32), nullable=False, index=index_owner),
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
    ]


cylinder = Table("cylinder", metadata, *archive_columns(), Column("updated_at", String(40), nullable=False))

# The archive's photos (stamped marks, label, inspection ring) as content hashes, in archive order.
cylinder_photo = Table(
    "cylinder_photo",
    metadata,
    Column("cylinder_code", String(64), ForeignKey("cylinder.code"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("content_hash", String(64), nullable=False),  # sha256 of the stored photo
)

inspection = Table(
    "inspection",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cylinder_code", String(64), nullable=False, index=True),
    Column("inspected_on", Date, nullable=False),
    Column("result", String(8), nullable=False),  # pass | fail
    Column("next_inspection", Date),
    Column("agency", String(128), nullable=False, server_default=""),
    Column("recorded_at", String(40), nullable=False),
)

operator = Table(
    "operator",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("certificate_expires", Date, nullable=False),
    Column("certificate_no", String(64), nullable=False, server_default=""),
)

check_record = Table(
    "check_record",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("cylinder_code", String(64), nullable=False, index=True),
    Column("phase", String(4), nullable=False),  # pre | post
    Column("result", String(8), nullable=False),  # pass | fail
    Column("items", JSON, nullable=False),
    Column("checker", String(64), nullable=False),
    Column("station", String(32)),
    Column("at", String(40), nullable=False),
    Column("fill_record_id", String(64), index=True),  # a post-fill check: the fill it follows
)

# Append-only and hash-chained, see domain/chain.py: `content` is the canonical JSON of the fields
# of `FillRecord` (domain/records.py, which says each column) and `seq`,
# `content_hash` its sha256, `hash` = sha256(prev_hash ‖ content).
fill = Table(
    "fill",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    *record_columns(FillRecord, unique=("record_id",), index=("cylinder_code",)),
    Column("content", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Fills whose valve may be open: written (durably) before the permit, deleted in the transaction of
# the fill's record. A row left at start-up is a fill the supervisor died during (interrupted.py).
fill_open = Table("fill_open", metadata, *record_columns(FillOpened, primary_key=("record_id",)))

# A cylinder held until something is done about it (supervisor/station/floor.py `Hold`): written
# when the hold begins, deleted when it ends, read back at start.
cylinder_hold = Table(
    "cylinder_hold",
    metadata,
    Column("cylinder_code", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),  # overfill | post_check_failed | post_check_missing
    Column("since", String(40), nullable=False),
    Column("station", String(32)),
    Column("fill_record_id", String(64)),
)

# A filled cylinder's tare or model (what sets its fill target) changed by an import, accepted by
# someone with a reason (`fillfloor registry import --accept-changes`): one row a field, kept.
archive_change = Table(
    "archive_change",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cylinder_code", String(64), nullable=False, index=True),
    Column("field", String(32), nullable=False),  # model | tare_kg
    Column("old_value", String(64)),  # as shown: null when there was none (an unknown tare)
    Column("new_value", String(64)),
    Column("who", String(64), nullable=False),
    Column("why", Text, nullable=False),
    Column("at", String(40), nullable=False),
)

# The newest link of each chain, updated in its link's transaction: deleting the newest fill or
# record is then as detectable as deleting any other. One row per chain, by id.
FILL_CHAIN = 1
RECORD_CHAIN = 2
# The newest fill the platform has acknowledged (its seq and hash): the anchor a local rewrite of the
# chain (hashes recomputed, or the chain emptied) cannot move, checked by verify-chain.
PLATFORM_FILL_ANCHOR = 3
chain_head = Table(
    "chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The record chain (chain.py): one link per check, refusal, alarm and console audit row, in the
# order they were written; the records stay in their own tables, named here by table and key.
record_link = Table(
    "record_link",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("record_table", String(32), nullable=False),
    Column("record_key", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("record_table", "record_key"),  # a record is linked once
)

refusal = Table(
    "refusal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("station", String(32), nullable=False),
    Column("cylinder_code", String(64), index=True),
    Column("raw", Text, nullable=False, server_default=""),
    Column("reasons", JSON, nullable=False),
    Column("operator_id", String(64)),
    Column("at", String(40), nullable=False),
)

alarm = Table(
    "alarm",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("alarm_id", String(64), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("station", String(32)),
    Column("message", Text, nullable=False),
    Column("event", String(16), nullable=False),  # raised | cleared | acknowledged | shelved
    Column("at", String(40), nullable=False),
)

console_audit = Table(
    "console_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("who", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("command", String(64), nullable=False),
    Column("target", String(64), nullable=False, server_default=""),
    Column("result", String(16), nullable=False),  # ok | refused | failed
    Column("detail", Text, nullable=False, server_default=""),
)

# Console users (docs/console-protocol.md): a token per user, stored only as its sha256.
console_user = Table(
    "console_user",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer | operator | checker | maintenance | supervisor
    Column("station", String(32)),  # an operator's own station
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # fill | check | refusal | alarm
    Column("payload", JSON, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_try_at", String(40)),
    Column("sent_at", String(40)),
    Column("dead_letter", Text),
    # The sync counts what is pending and what was dead-lettered after every batch: index-only
    # counts, not a scan of every record ever sent (migration 0005, docs/benchmarks.md).
    Index("ix_outbox_pending", "sent_at", "dead_letter"),
    Index("ix_outbox_dead_letter", "dead_letter"),
)

registry_cursor = Table(
    "registry_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("cursor", String(128), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# One row: how many times the registry (archives, operators) was changed, bumped in the same
# transaction as the change, so that a running floor sees an import (supervisor/storage/registry_changes.py).
registry_change = Table(
    "registry_change",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
)

station_setting = Table(
    "station_setting",
    metadata,
    Column("station", String(32), primary_key=True),
    Column("key", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
)
