"""The floor's two hash chains (杜绝虚假登记), built alike from `domain.chain`.

The fill chain: each fill is its own link (domain/chain.py says its content and hashes). The record
chain links the other records the floor keeps (checks, refusals, alarms, console audit rows) the
same way, one link per record in the order they were written; each link (table `record_link`) holds
its record's canonical content (`record_content`), the record itself staying in its own table.
RECORD_CHAIN_FIELDS and the encoding never change: they are what every stored hash was computed
from. The fill chain's names are re-exported here, where the migrations import them from.
"""

from __future__ import annotations

from domain.chain import (
    CHAIN_FIELDS,
    CHAIN_FIELDS_IF_SET,
    GENESIS,
    StoredRow,
    canonical_content,
    content_hash,
    link_columns,
    link_hash,
)

__all__ = [
    "CHAIN_FIELDS",
    "CHAIN_FIELDS_IF_SET",
    "GENESIS",
    "RECORD_CHAIN_FIELDS",
    "canonical_content",
    "content_hash",
    "link_columns",
    "link_hash",
    "record_content",
    "record_key",
]

# The record chain: per table, the columns of a row that its link holds, the first one naming the
# record (a console audit row has no record id: its row number names it). The link's content adds
# the table's name and the link's number in the chain (`seq`), as a fill's holds its own.
RECORD_CHAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "check_record": ("record_id", "cylinder_code", "phase", "result", "items", "checker", "station", "at",
                     "fill_record_id"),
    "refusal": ("record_id", "station", "cylinder_code", "raw", "reasons", "operator_id", "at"),
    "alarm": ("record_id", "alarm_id", "kind", "severity", "station", "message", "event", "at"),
    "console_audit": ("id", "at", "who", "role", "command", "target", "result", "detail"),
}  # fmt: skip


def record_content(table: str, seq: int, row: StoredRow) -> str:
    """The content of link `seq` of the record chain: the record's RECORD_CHAIN_FIELDS[table], the
    table's name and `seq`, as canonical JSON."""
    fields = ("seq", "table", *RECORD_CHAIN_FIELDS[table])
    return canonical_content({**row, "seq": seq, "table": table}, fields, ())


def record_key(table: str, row: StoredRow) -> str:
    """What names the record of this row in its table: its record id (a console audit row: its id)."""
    return str(row[RECORD_CHAIN_FIELDS[table][0]])
