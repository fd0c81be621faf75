"""The fill hash chain (杜绝虚假登记: a missing or altered record is detectable).

Each fill's canonical content is JSON with sorted keys, no whitespace, decimals as strings and its
sequence number inside. Stored with each fill: the canonical content itself, its `content_hash`
(sha256 of the content: the record on its own) and its chain `hash` = sha256(previous hash ‖
canonical content), the first fill's previous hash being GENESIS. Anyone holding the records (the
platform, an auditor) can recompute both. CHAIN_FIELDS and the encoding never change: they are what
every stored hash was computed from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["CHAIN_FIELDS", "CHAIN_FIELDS_IF_SET", "GENESIS", "canonical_content", "content_hash", "link_hash"]

GENESIS = "0" * 64
CHAIN_FIELDS = (
    "seq", "record_id", "cylinder_code", "station", "operator_id", "outcome", "reason",
    "tare_kg", "target_kg", "gross_kg", "net_kg", "error_g", "flags", "started_at", "ended_at",
)  # fmt: skip
# Fields added after the first schema (migrations 0003, 0007): part of the content when set, so
# that fills stored before they existed keep their content and hash unchanged.
CHAIN_FIELDS_IF_SET = ("gross_before_kg", "preact_kg", "precheck_id", "topup_of")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Normalised so that 15.200 (PostgreSQL numeric) and 15.2 hash alike.
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, list | tuple):
        return sorted(_plain(v) for v in value)
    return value


def canonical_content(row: Mapping[str, Any]) -> str:
    """The fill's CHAIN_FIELDS (missing ones null) and its set CHAIN_FIELDS_IF_SET as canonical JSON."""
    content = {name: _plain(row.get(name)) for name in CHAIN_FIELDS}
    content.update({name: _plain(row[name]) for name in CHAIN_FIELDS_IF_SET if row.get(name) is not None})
    return json.dumps(
        content,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def link_hash(prev_hash: str, content: str) -> str:
    """The chain hash of a fill whose canonical content is `content`, after `prev_hash`."""
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()
