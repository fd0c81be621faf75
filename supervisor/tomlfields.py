"""Reading a settings class from a TOML table by its fields: the class says it once, the file
follows (docs/config.md).

Each field is a key of the table, spelt as the field's name (with a prefix for a nested settings
class: `preact_gain` for `FillSettings.preact.gain`); its type says how the key is read (text,
integer, number, decimal, true/false, date); its `domain.setting.Limits` bound what the file may
give; a key left out keeps the class's default, and a field without a default is required. Every
problem is a `TomlError` naming the file, the key path and what is wrong; a class's validator
refusing the whole names its table, or the key when it raises `FieldProblem`.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from domain.setting import FieldProblem, limits_of
from supervisor.tomlcheck import Table

__all__ = ["construct", "field_values", "read_fields"]

T = TypeVar("T")

_READABLE = (str, bool, int, float, Decimal, dt.date)


def _kinds(cls: type) -> Mapping[str, Any]:
    """Each field's type, with `X | None` read as X (a file cannot write None: it leaves the key out)."""
    hints = typing.get_type_hints(cls)
    kinds: dict[str, Any] = {}
    for name, hint in hints.items():
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            hint = args[0] if len(args) == 1 else hint
        kinds[name] = hint
    return kinds


def _read(t: Table, key: str, kind: Any, field: attrs.Attribute[Any]) -> Any:
    limits = limits_of(field)
    if kind is str:
        if limits.choices:
            return t.choice(key, limits.choices)
        if limits.regex:
            return t.regex(key, group=limits.group)
        return t.str(key, pattern=limits.pattern)
    if kind is bool:
        return t.bool(key)
    if kind is int:
        return t.int(key, lo=limits.lo, hi=limits.hi)
    if kind is float:
        return t.number(key, positive=limits.positive)
    if kind is Decimal:
        return t.decimal(key, positive=limits.positive)
    return t.date(key)


def field_values(
    t: Table,
    cls: type,
    *,
    prefix: str = "",
    nested: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
    required: bool = True,
) -> dict[str, Any]:
    """The fields of `cls` that the table sets, read and checked by their limits. A field the
    file may not leave out (no default, and `required`) is read even when absent, so its absence
    is named. `nested` maps a field holding a settings class to its keys' prefix; `skip` names the
    fields the caller reads itself."""
    values: dict[str, Any] = {}
    kinds = _kinds(cls)
    for field in attrs.fields(cls):
        if field.name in skip or not limits_of(field).in_file:
            continue
        key = prefix + field.name
        kind = kinds[field.name]
        if nested and field.name in nested:
            values[field.name] = read_fields(t, kind, prefix=prefix + nested[field.name])
        elif kind not in _READABLE:
            raise TypeError(f"{cls.__name__}.{field.name}: a {kind} is not read from a file (skip it)")
        elif t.has(key) or (required and field.default is attrs.NOTHING):
            values[field.name] = _read(t, key, kind, field)
    return values


def read_fields(
    t: Table,
    cls: type[T],
    *,
    prefix: str = "",
    nested: Mapping[str, str] | None = None,
    given: Mapping[str, Any] | None = None,
) -> T:
    """An instance of `cls` from the table's keys (`given` adds the fields the caller read
    itself); the class's validators judge the values. Leaves unknown keys to `t.done()`."""
    given = dict(given or {})
    values = field_values(t, cls, prefix=prefix, nested=nested, skip=given)
    return construct(t, cls, {**values, **given}, prefix)


def construct(t: Table, cls: type[T], values: Mapping[str, Any], prefix: str = "") -> T:
    """`cls(**values)`, a validator's refusal named as the table's (or its key's) problem."""
    try:
        return cls(**values)
    except FieldProblem as exc:
        raise t.error(prefix + exc.field, exc.problem) from None
    except ValueError as exc:  # a value no rule can use (e.g. a residual fraction above 1)
        raise t.error(None, str(exc)) from None
