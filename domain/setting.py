"""What a config file may set in a field, kept on the field itself (attrs metadata).

The config reader (supervisor/config.py) reads each field of a settings class as one key of its
table: the key is the field's name, the field's type says how to read it, a key left out keeps the
class's default, and the `Limits` here bound what the file may give, so that a bad value is refused
with its key's name before the class sees it. The class's own validators then judge the whole.

A file's limits may be narrower than what the class accepts: tests and simulators build settings
no plant should write (a valve watchdog of 4 ms, a scanner on port 0 to see the actor refuse it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen

__all__ = ["FieldProblem", "Limits", "limited", "limits_of", "not_in_file"]

_KEY = "fillfloor.limits"


@frozen
class Limits:
    lo: int | None = None  # an integer's range (both or neither)
    hi: int | None = None
    positive: bool = False  # a number above zero
    choices: tuple[str, ...] = ()  # one of these texts
    pattern: str | None = None  # a text matching this whole
    regex: bool = False  # a text that is a regular expression...
    group: str | None = None  # ...with this named group
    in_file: bool = True  # False: the floor sets it, never the file


def limited(**limits: Any) -> Mapping[str, Limits]:
    """The metadata of a field with these limits: `field(default=502, metadata=limited(lo=1, hi=65535))`."""
    return {_KEY: Limits(**limits)}


def not_in_file() -> Mapping[str, Limits]:
    """The metadata of a field the config file does not set (another table or the floor does)."""
    return {_KEY: Limits(in_file=False)}


def limits_of(field: attrs.Attribute[Any]) -> Limits:
    return field.metadata.get(_KEY, Limits())  # type: ignore[no-any-return]


class FieldProblem(ValueError):
    """A class's validator refusing a value for one of its fields; the reader names that key."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
