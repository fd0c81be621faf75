"""Reading TOML tables strictly: every problem names the file, the key path and what is wrong.

Used by the config file and the scenario file. Unknown keys are errors, so a typo never passes
silently. A `Table` wraps one table and hands out typed values, remembering which keys were read;
`done()` then refuses the keys nobody asked for.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias, TypeGuard, TypeVar

from domain.dates import as_date
from supervisor.errors import BadInput

__all__ = ["Table", "TomlError", "load_toml"]

T = TypeVar("T")
_MISSING = object()


class TomlError(BadInput):
    """`<file>: <key path>: <problem>`."""

    def __init__(self, file: str, where: str, problem: str) -> None:
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")
        self.file = file
        self.where = where
        self.problem = problem


def load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TomlError(str(path), "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TomlError(str(path), "", "not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except ValueError as exc:
        # TOMLDecodeError, and (found by fuzzing) the plain ValueError of an integer of more than
        # 4300 digits, which tomllib hands to int() unchecked.
        raise TomlError(str(path), "", f"invalid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively (fuzzing)
        raise TomlError(str(path), "", "invalid TOML: arrays or tables nested too deeply") from None


def _real(value: object) -> TypeGuard[int | float]:
    """A number a setting can hold. nan and inf are TOML floats, but no setting means them: an
    infinite time limit, rate or max fill would switch a supervision or the hard cap off, a NaN
    compares false to every bound (and a Decimal NaN raises InvalidOperation), and an integer
    beyond a float's range raised OverflowError (all three found by fuzzing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# (Table's readers are named after the types they read, which hides those names in its body)
_Str: TypeAlias = str
_Int: TypeAlias = int
_Bool: TypeAlias = bool


class Table:
    def __init__(self, data: dict[str, Any], file: str, path: str = "") -> None:
        self._data = data
        self._file = file
        self.path = path
        self._read: set[str] = set()

    def error(self, key: str | None, problem: str) -> TomlError:
        where = self.path if key is None else (f"{self.path}.{key}" if self.path else key)
        return TomlError(self._file, where, problem)

    def has(self, key: str) -> bool:
        return key in self._data

    def names(self) -> list[str]:
        return list(self._data)

    def _get(self, key: str, default: object) -> object:
        self._read.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            raise self.error(key, "is required")
        return default

    def typed(
        self, key: str, check: Callable[[object], T | None], what: str, default: object = _MISSING
    ) -> T:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value  # type: ignore[return-value]
        converted = check(value)
        if converted is None:
            raise self.error(key, f"must be {what}, got {_show(value)}")
        return converted

    def str(self, key: str, default: object = _MISSING, *, pattern: str | None = None) -> str:
        value = self.typed(key, lambda v: v if isinstance(v, str) else None, "text", default)
        if value is not default and pattern and not re.fullmatch(pattern, value):
            raise self.error(key, f"must match {pattern}, got {_show(value)}")
        return value

    def choice(self, key: _Str, options: tuple[_Str, ...], default: object = _MISSING) -> _Str:
        value = self.str(key, default)
        if value not in options and value is not default:
            raise self.error(key, f"must be one of {', '.join(options)}, got {_show(value)}")
        return value

    def int(
        self, key: _Str, default: object = _MISSING, *, lo: _Int | None = None, hi: _Int | None = None
    ) -> _Int:
        what = "an integer" + (f" {lo}..{hi}" if lo is not None and hi is not None else "")

        def check(v: object) -> int | None:
            if isinstance(v, bool) or not isinstance(v, int):
                return None
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                return None
            return v

        return self.typed(key, check, what, default)

    def number(self, key: _Str, default: object = _MISSING, *, positive: _Bool = False) -> float:
        def check(v: object) -> float | None:
            if not _real(v) or (positive and not v > 0):
                return None
            return float(v)

        return self.typed(key, check, "a positive number" if positive else "a number", default)

    def decimal(self, key: _Str, default: object = _MISSING, *, positive: _Bool = False) -> Decimal:
        def check(v: object) -> Decimal | None:
            if not _real(v):
                return None
            d = Decimal(str(v))
            return None if (positive and not d > 0) or d < 0 else d

        return self.typed(key, check, "a positive number" if positive else "a number ≥ 0", default)

    def bool(self, key: _Str, default: object = _MISSING) -> _Bool:
        return self.typed(key, lambda v: v if isinstance(v, bool) else None, "true or false", default)

    def date(self, key: _Str, default: object = _MISSING) -> dt.date:
        return self.typed(key, as_date, "a date YYYY-MM-DD", default)

    def regex(self, key: _Str, default: object = _MISSING, *, group: _Str | None = None) -> _Str:
        value = self.str(key, default)
        if value is default:
            return value
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise self.error(key, f"is not a valid regular expression: {exc}") from None
        if group and group not in compiled.groupindex:
            raise self.error(key, f"needs a (?P<{group}>...) group")
        return value

    def table(self, key: _Str, *, required: _Bool = False) -> Table | None:
        value = self._get(key, _MISSING if required else None)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {_show(value)}")
        return Table(value, self._file, f"{self.path}.{key}" if self.path else key)

    def table_or_empty(self, key: _Str) -> Table:
        """The table `key`, or an empty one in its place (a table the file may leave out)."""
        return self.table(key) or Table({}, self._file, f"{self.path}.{key}" if self.path else key)

    def tables(
        self, key: _Str, label: Callable[[_Int, dict[_Str, Any]], _Str] | None = None
    ) -> Iterator[Table]:
        """The `[[key]]` array of tables; entries are named `key[i]` (or by `label`)."""
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be [[{key}]] tables")
        for i, item in enumerate(value):
            name = label(i, item) if label else f"{key}[{i}]"
            yield Table(item, self._file, f"{self.path}.{name}" if self.path else name)

    def raw(self, key: _Str, default: object = None) -> object:
        return self._get(key, default)

    def done(self) -> None:
        unknown = [k for k in self._data if k not in self._read]
        if unknown:
            raise self.error(unknown[0], "unknown key (a typo?)")
