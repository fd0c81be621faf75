"""The hash chains (杜绝虚假登记: a missing or altered record is detectable).

Two chains, built alike. The fill chain: each fill's canonical content is JSON with sorted keys, no
whitespace, decimals as strings and its sequence number inside. Stored with each fill: the
canonical content itself, its `content_hash` (sha256 of the content: the record on its own) and its
chain `hash` = sha256(previous hash ‖ canonical content), the first fill's previous hash being
GENESIS. Anyone holding the records (the platform, an auditor) can recompute both. The record chain
links the other records the floor keeps (checks, refusals, alarms, console audit rows) the same way,
one link per record in the order they were written; each link (table `record_link`) holds its
record's canonical content (`record_content`), the record itself staying in its own table.
CHAIN_FIELDS, RECORD_CHAIN_FIELDS and the encoding never change: they are what every stored hash
was computed from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

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

GENESIS = "0" * 64
CHAIN_FIELDS = (
    "seq", "record_id", "cylinder_code", "station", "operator_id", "outcome", "reason",
    "tare_kg", "target_kg", "gross_kg", "net_kg", "error_g", "flags", "started_at", "ended_at",
)  # fmt: skip
# Fields added after the first schema (migrations 0003, 0007): part of the content when set, so
# that fills stored before they existed keep their content and hash unchanged.
CHAIN_FIELDS_IF_SET = ("gross_before_kg", "preact_kg", "precheck_id", "topup_of")
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


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Normalised so that 15.200 (PostgreSQL numeric) and 15.2 hash alike.
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, list | tuple):
        return sorted(_plain(v) for v in value)
    return value


def canonical_content(
    row: Mapping[str, Any],
    fields: Sequence[str] = CHAIN_FIELDS,
    fields_if_set: Sequence[str] = CHAIN_FIELDS_IF_SET,
) -> str:
    """The row's `fields` (missing ones null) and its set `fields_if_set` as canonical JSON; by
    default a fill's CHAIN_FIELDS and CHAIN_FIELDS_IF_SET."""
    content = {name: _plain(row.get(name)) for name in fields}
    content.update({name: _plain(row[name]) for name in fields_if_set if row.get(name) is not None})
    return json.dumps(
        content,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def record_content(table: str, seq: int, row: Mapping[str, Any]) -> str:
    """The content of link `seq` of the record chain: the record's RECORD_CHAIN_FIELDS[table], the
    table's name and `seq`, as canonical JSON."""
    fields = ("seq", "table", *RECORD_CHAIN_FIELDS[table])
    return canonical_content({**row, "seq": seq, "table": table}, fields, ())


def record_key(table: str, row: Mapping[str, Any]) -> str:
    """What names the record of this row in its table: its record id (a console audit row: its id)."""
    return str(row[RECORD_CHAIN_FIELDS[table][0]])


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def link_hash(prev_hash: str, content: str) -> str:
    """The chain hash of a link (a fill, a record) whose canonical content is `content`, after `prev_hash`."""
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def link_columns(prev_hash: str, content: str) -> dict[str, str]:
    """What a link stores beside its record's fields: the canonical content, its sha256, the
    previous link's hash and its own chain hash."""
    return {"content": content, "content_hash": content_hash(content), "prev_hash": prev_hash,
            "hash": link_hash(prev_hash, content)}  # fmt: skip
