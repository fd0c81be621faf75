"""A record class's table columns and rows, derived from its stored fields (`domain.stored`).

The SQL type of each kind: text a `String` of the declared length, a mass `KG` (to the gram), a
count an `Integer`, names a JSON list; a field that may be absent is a nullable column.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from attrs import AttrsInstance
from sqlalchemy import JSON, Column, Integer, Numeric, String
from sqlalchemy.types import TypeEngine

from domain.stored import FieldKind, StoredField, stored_fields

__all__ = ["KG", "record_columns", "record_from_row", "record_row"]

KG = Numeric(10, 3, asdecimal=True)
_GRAM = Decimal("0.001")
T = TypeVar("T", bound=AttrsInstance)


def _sql_type(f: StoredField) -> TypeEngine[Any]:
    match f.kind:
        case FieldKind.TEXT | FieldKind.TIME:
            return String(f.length)
        case FieldKind.MASS:
            return KG
        case FieldKind.COUNT:
            return Integer()
        case FieldKind.NAMES:
            return JSON()


def record_columns(
    cls: type,
    *,
    primary_key: Collection[str] = (),
    unique: Collection[str] = (),
    index: Collection[str] = (),
) -> list[Column[Any]]:
    """Fresh columns for the stored fields of `cls`, in the class's order; the keys, unique and
    indexed columns (by column name) are the table's to say."""
    return [
        _column(f, f.column in primary_key, f.column in unique, f.column in index) for f in stored_fields(cls)
    ]


def _column(f: StoredField, primary_key: bool, unique: bool, index: bool) -> Column[Any]:
    # None, not False, where not asked: what a Column spelled out without them has.
    nullable = f.nullable and not primary_key
    return Column(f.column, _sql_type(f), primary_key=primary_key, nullable=nullable,
                  unique=unique or None, index=index or None)  # fmt: skip


def _kg(value: Decimal | None) -> Decimal | None:
    """A mass as its column keeps it (to the gram): a fill's chained content must be what is stored."""
    return None if value is None else value.quantize(_GRAM, rounding=ROUND_HALF_EVEN)


def _column_value(f: StoredField, value: Any) -> Any:
    if f.kind is FieldKind.MASS:
        return _kg(value)
    if f.kind is FieldKind.NAMES:
        return list(value)
    return value


def record_row(record: AttrsInstance) -> dict[str, Any]:
    """The row of a record: its stored fields by column name, in the class's order."""
    return {f.column: _column_value(f, getattr(record, f.name)) for f in stored_fields(type(record))}


def record_from_row(cls: type[T], row: Mapping[Any, Any]) -> T:
    """The record a row of its table holds."""
    return cls(**{f.name: row[f.column] for f in stored_fields(cls)})
