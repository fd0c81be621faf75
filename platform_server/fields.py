"""Reading JSON bodies field by field; a bad field raises `Invalid` naming its path.

`Fields(obj, "records[2].payload")` wraps one JSON object; each getter names the field it reads,
so the error says exactly which one (`records[2].payload.gross_kg: must be a decimal string`).
Masses travel as decimal strings, never JSON numbers (a float cannot hold 14.51 exactly); times as
ISO 8601 with a UTC offset; dates as `YYYY-MM-DD` (GB/T 7408).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from attrs import frozen

from platform_server.errors import Invalid

__all__ = ["MAX_DEPTH", "Fields", "Unreadable", "check_json", "parse_json", "path"]

_DECIMAL = re.compile(r"-?\d{1,12}(\.\d{1,6})?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MISSING = object()
# How deep a record's JSON may nest: the floor's payloads are two levels deep.
MAX_DEPTH = 16
# Longer numbers than any field needs are kept unread (a 5,000-digit integer would not convert).
_MAX_NUMBER_CHARS = 40


@frozen(repr=False)
class Unreadable:
    """A JSON number the platform does not convert (too long, not finite): refused where it is."""

    text: str

    def __repr__(self) -> str:  # named in answers: never the sender's 5,000 digits
        return "an unreadable number"


def _int(text: str) -> int | Unreadable:
    return Unreadable(text) if len(text) > _MAX_NUMBER_CHARS else int(text)


def _float(text: str) -> float | Unreadable:
    value = float(text) if len(text) <= _MAX_NUMBER_CHARS else math.inf
    return value if math.isfinite(value) else Unreadable(text)


def path(prefix: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


def parse_json(body: bytes) -> Any:
    """The body's JSON; numbers too long or not finite become `Unreadable` (refused where they are,
    by `check_json` or a field's getter), so one bad record never fails its whole batch."""
    try:
        return json.loads(body, parse_int=_int, parse_float=_float, parse_constant=Unreadable)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid("(body)", f"not JSON: {exc}") from None
    except RecursionError:
        raise Invalid("(body)", "nested too deeply") from None


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def check_json(value: object, where: str, depth: int = 0) -> None:
    """Refuse what cannot be stored as sent: nesting deeper than MAX_DEPTH, an `Unreadable` number,
    a lone surrogate (not encodable as UTF-8) in a string or a key. Raises `Invalid` at its path."""
    if depth > MAX_DEPTH:
        raise Invalid(where, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Unreadable):
        raise Invalid(where, "a number too long or not finite")
    if isinstance(value, str) and _has_surrogate(value):
        raise Invalid(where, "contains a lone surrogate (not UTF-8 text)")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _has_surrogate(str(key)):
                raise Invalid(where, "a key contains a lone surrogate (not UTF-8 text)")
            check_json(item, path(where, str(key)), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, path(where, i), depth + 1)


class Fields:
    """Typed access to one JSON object of a body, every error naming `prefix.field`."""

    def __init__(self, obj: object, prefix: str = "") -> None:
        if not isinstance(obj, Mapping):
            raise Invalid(prefix or "(body)", "must be a JSON object")
        self.obj: Mapping[str, Any] = obj
        self.prefix = prefix

    def name(self, key: str) -> str:
        return path(self.prefix, key)

    def _get(self, key: str, required: bool) -> Any:
        value = self.obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise Invalid(self.name(key), "is required", missing=True)
            return None
        return value

    def only(self, known: Sequence[str]) -> None:
        """Refuse fields this object does not have: a typo must not pass silently."""
        for key in self.obj:
            if key not in known:
                raise Invalid(self.name(str(key)), "unknown field")

    def text(
        self, key: str, *, required: bool = True, max_len: int = 256, allow_empty: bool = False
    ) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise Invalid(self.name(key), "must be a string")
        if not allow_empty and not value.strip():
            if required:
                raise Invalid(self.name(key), "must not be empty", missing=True)
            return None
        if len(value) > max_len:
            raise Invalid(self.name(key), f"longer than {max_len} characters")
        if any(not ch.isprintable() for ch in value):
            raise Invalid(self.name(key), "contains control characters")
        return value

    def choice(self, key: str, choices: Sequence[str], *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is not None and value not in choices:
            raise Invalid(self.name(key), f"must be one of {', '.join(choices)}")
        return value

    def integer(self, key: str, *, required: bool = True, minimum: int | None = None) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(self.name(key), "must be an integer")
        if minimum is not None and value < minimum:
            raise Invalid(self.name(key), f"must be at least {minimum}")
        return value

    def decimal(self, key: str, *, required: bool = True) -> Decimal | None:
        """A mass as a decimal string (`"14.51"`); JSON numbers are refused."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            raise Invalid(self.name(key), 'must be a decimal string such as "14.51"')
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            raise Invalid(self.name(key), "must be a decimal string") from None

    def time(self, key: str, *, required: bool = True) -> str | None:
        """An ISO 8601 date and time with a UTC offset, returned as sent."""
        value = self.text(key, required=required, max_len=40)
        if value is None:
            return None
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(self.name(key), "must be an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise Invalid(self.name(key), "must carry a UTC offset")
        return value

    def date(self, key: str, *, required: bool = True) -> dt.date | None:
        value = self.text(key, required=required, max_len=10)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise Invalid(self.name(key), "must be a date YYYY-MM-DD") from None

    def boolean(self, key: str, *, required: bool = True) -> bool | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise Invalid(self.name(key), "must be true or false")
        return value

    def hex64(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        if not _HEX64.fullmatch(value):
            raise Invalid(self.name(key), "must be 64 lowercase hex digits (a sha256)")
        return value

    def strings(self, key: str, *, required: bool = True, max_items: int = 64) -> list[str] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) > max_items:
            raise Invalid(self.name(key), f"must be a list of at most {max_items} strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item or len(item) > 256:
                raise Invalid(path(self.name(key), i), "must be a non-empty string")
        return list(value)

    def objects(self, key: str, *, max_items: int) -> list[Any]:
        """A required list of at most `max_items` items (each checked by the caller)."""
        value = self._get(key, True)
        if not isinstance(value, list):
            raise Invalid(self.name(key), "must be a list")
        if len(value) > max_items:
            raise Invalid(self.name(key), f"at most {max_items} items per request")
        return value

    def mapping(self, key: str, *, required: bool = True) -> Mapping[str, Any] | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise Invalid(self.name(key), "must be a JSON object")
        return value
