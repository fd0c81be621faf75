"""record_link: checks, refusals, alarms and console audit rows join a hash chain of their own

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Only fills were chained: a pre-fill check could be deleted, or its checker's name edited, and
nothing would tell. The record chain links every check, refusal, alarm and console audit row in
the order they are written (a link per record; the record stays in its own table), ending in a head
of its own (`chain_head` row 2). The records already stored join it here, in the order of their
times (then checks, refusals, alarms, audit rows; then row number), so that from this upgrade on an
edit or a deletion of any of them is detected too. The fill chain does not change.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

from supervisor.storage.chain import GENESIS, RECORD_CHAIN_FIELDS, link_columns, record_content, record_key

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RECORD_CHAIN = 2  # its chain_head row; the fill chain's is 1
_BATCH = 5000
_JSON_COLUMNS = ("items", "reasons")
_Row = Mapping[str, Any]

_link = sa.table(
    "record_link",
    sa.column("seq", sa.Integer), sa.column("record_table", sa.String), sa.column("record_key", sa.String),
    sa.column("content", sa.Text), sa.column("content_hash", sa.String), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)  # fmt: skip
_head = sa.table(
    "chain_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("hash", sa.String)
)


def _records(name: str) -> sa.TableClause:
    """A table of records as 0007 left it, as far as the chain is concerned (and its row number)."""
    names = dict.fromkeys(("id", *RECORD_CHAIN_FIELDS[name]))
    return sa.table(name, *(sa.column(c, _type(c)) for c in names))


def _type(column: str) -> type[sa.types.TypeEngine[Any]]:
    return sa.JSON if column in _JSON_COLUMNS else sa.Integer if column == "id" else sa.String


def _in_time_order(bind: sa.Connection) -> Iterator[tuple[str, _Row]]:
    """Every record of the four tables, each table streamed in its own time order, merged."""
    streams = [_stream(bind, rank, name) for rank, name in enumerate(RECORD_CHAIN_FIELDS)]
    for *_, name, row in heapq.merge(*streams):
        yield name, row


def _stream(bind: sa.Connection, rank: int, name: str) -> Iterator[tuple[str, int, int, str, _Row]]:
    """One table's records by time, then row number, each with what orders it among the others."""
    table = _records(name)
    q = sa.select(table).order_by(table.c.at, table.c.id).execution_options(yield_per=_BATCH)
    for row in bind.execute(q).mappings():
        yield row["at"], rank, row["id"], name, row


def upgrade() -> None:
    op.create_table(
        "record_link",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("record_table", sa.String(32), nullable=False),
        sa.Column("record_key", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_record_link")),
        sa.UniqueConstraint("record_table", "record_key", name=op.f("uq_record_link_record_table")),
    )
    bind = op.get_bind()
    seq, prev, links = 0, GENESIS, []
    for name, row in _in_time_order(bind):
        seq += 1
        chained = link_columns(prev, record_content(name, seq, row))
        links.append({"seq": seq, "record_table": name, "record_key": record_key(name, row), **chained})
        prev = chained["hash"]
        if len(links) == _BATCH:
            bind.execute(sa.insert(_link), links)
            links = []
    if links:
        bind.execute(sa.insert(_link), links)
    # The head exists from the start, as the fill chain's does (0002), so appenders can lock it.
    bind.execute(sa.insert(_head).values(id=RECORD_CHAIN, seq=seq, hash=prev))


def downgrade() -> None:
    op.execute(sa.delete(_head).where(_head.c.id == RECORD_CHAIN))
    op.drop_table("record_link")
