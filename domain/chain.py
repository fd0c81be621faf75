"""A hash chain's content and hashes (杜绝虚假登记: a missing or altered record is detectable), the
same for the floor that builds its chains and the platform that re-verifies its copy.

A fill's canonical content is JSON with sorted keys, no whitespace, decimals as strings and its
sequence number inside; its `content_hash` is the sha256 of the content (the record on its own) and
its chain `hash` = sha256(previous hash ‖ canonical content), the first link's previous hash being
GENESIS. The fields are the stored fields of `FillRecord` (domain/records.py) under their column
names, and `seq`. The encoding and the fields never change: they are what every stored hash was
computed from (tests/domain/test_fill_record_definition.py pins them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from domain.records import FillRecord
from domain.stored import stored_fields

__all__ = [
    "CHAIN_FIELDS",
    "CHAIN_FIELDS_IF_SET",
    "GENESIS",
    "StoredRow",
    "canonical_content",
    "content_hash",
    "link_columns",
    "link_hash",
]

GENESIS = "0" * 64
CHAIN_FIELDS = ("seq", *(f.column for f in stored_fields(FillRecord) if f.since is None))
# Fields added after the first schema (their `since`): part of the content when set, so that fills
# stored before they existed keep their content and hash unchanged.
CHAIN_FIELDS_IF_SET = tuple(f.column for f in stored_fields(FillRecord) if f.since is not None)


# A stored row by column name: a dict, a received payload or a database row's mapping (whose keys
# may also be its columns, hence Any).
StoredRow = Mapping[Any, Any]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Normalised so that 15.200 (PostgreSQL numeric) and 15.2 hash alike.
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, list | tuple):
        return sorted(_plain(v) for v in value)
    return value


def canonical_content(
    row: StoredRow,
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
