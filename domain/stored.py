"""How a record's fields are kept, said once beside each field (`stored(...)` in its attrs class).

A stored field has a column name: the name it has in its table, in the outbox payload the platform
receives and in the fill chain's canonical content (`cylinder_code` for `FillRecord.cylinder`). Its
kind (text, mass, count, names) and whether it may be absent come from the field's type; a text's
column length, whether it is a time, its allowed values, whether it may be empty and the floor
migration that added the field are said here. The tables and the row mapping
(`supervisor.storage.record_rows`), the chain's fields (`domain.chain`) and the platform's checks
of an uploaded fill (`platform_server.records`) all derive from this, so a new field is added in
one place (and its migration).
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

__all__ = ["TIME_LENGTH", "FieldKind", "StoredField", "stored", "stored_fields"]

_KEY = "fillfloor.stored"


class FieldKind(enum.Enum):
    TEXT = "text"
    TIME = "time"  # ISO 8601 text with a UTC offset
    MASS = "mass"  # a Decimal in kg, kept to the gram
    COUNT = "count"  # an int
    NAMES = "names"  # a tuple of str, kept as a JSON list


TIME_LENGTH = 40  # the column length of every time


@frozen
class _Declared:
    column: str | None
    length: int | None
    since: str | None
    time: bool
    choices: tuple[str, ...] | None
    may_be_empty: bool


@frozen
class StoredField:
    """One stored field of a record class, resolved from its declaration and its type."""

    name: str  # the attribute
    column: str
    kind: FieldKind
    nullable: bool
    length: int | None  # a text's column length
    choices: tuple[str, ...] | None  # a text's allowed values
    may_be_empty: bool  # a required text that may be "" (a fill that failed early has no cylinder)
    # The floor migration that added it (None: the first schema). Such a field joins the fill
    # chain's content only when set, so that fills stored before it existed keep their hash.
    since: str | None


def stored(
    column: str | None = None,
    *,
    length: int | None = None,
    time: bool = False,
    choices: tuple[str, ...] | None = None,
    may_be_empty: bool = False,
    since: str | None = None,
    **kwargs: Any,
) -> Any:
    """An attrs field that is stored: `column` when its column is named otherwise than the field;
    for text its `length`, or `time` (ISO 8601), its `choices` (validated), whether it `may_be_empty`;
    `since` the migration that added it. Other arguments go to `attrs.field`."""
    if choices is not None:
        kwargs["validator"] = attrs.validators.in_(choices)
    declared = _Declared(column, length, since, time, choices, may_be_empty)
    return attrs.field(metadata={_KEY: declared}, **kwargs)


def _kind(tp: Any) -> tuple[FieldKind, bool]:
    args = typing.get_args(tp) if isinstance(tp, types.UnionType) else (tp,)
    nullable = type(None) in args
    (inner,) = [a for a in args if a is not type(None)]
    if inner is Decimal:
        return FieldKind.MASS, nullable
    if inner is int:
        return FieldKind.COUNT, nullable
    if inner is str:
        return FieldKind.TEXT, nullable
    if typing.get_origin(inner) is tuple and typing.get_args(inner) == (str, ...):
        return FieldKind.NAMES, nullable
    raise TypeError(f"no stored kind for {tp!r}")


@functools.cache  # a class's fields never change: derived once, not at every record stored
def stored_fields(cls: type) -> tuple[StoredField, ...]:
    """The stored fields of an attrs record class, in the class's order."""
    attrs.resolve_types(cls)
    out = []
    for a in attrs.fields(cls):
        declared = a.metadata.get(_KEY)
        if declared is None:
            continue
        kind, nullable = _kind(a.type)
        length = declared.length
        if kind is FieldKind.TEXT and declared.time:
            kind, length = FieldKind.TIME, TIME_LENGTH
        if kind is FieldKind.TEXT and length is None:
            raise TypeError(f"{cls.__name__}.{a.name}: a stored text needs its length")
        out.append(StoredField(a.name, declared.column or a.name, kind, nullable, length, declared.choices,
                               declared.may_be_empty, declared.since))  # fmt: skip
    return tuple(out)
