"""Write a scenario document (docs/scenarios.md, "File format") as TOML text.

Generated scenarios (`simulator.fault_matrix`) are built as plain dicts and written here, so that a
user can read, edit and re-run the exact file a test ran. Only what a scenario holds is supported:
top-level values, tables, and arrays of tables whose values are strings, numbers and booleans.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["scenario_toml"]


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a scenario holds finite numbers only, not {value!r}")
        return repr(round(value, 3))
    if isinstance(value, str):
        # A JSON string with its non-ASCII kept is a valid TOML basic string (same escapes).
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"a scenario value is a string, number or boolean, not {type(value).__name__}")


def _pairs(table: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {_value(value)}" for key, value in table.items()]


def scenario_toml(doc: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """`doc` as TOML: scalars first, then each table, then each array of tables in order.
    `header` lines become comments at the top (what the file is and how it was made)."""
    lines = [f"# {line}".rstrip() for line in header]
    scalars = {k: v for k, v in doc.items() if not isinstance(v, Mapping | list)}
    lines += _pairs(scalars)
    for key, value in doc.items():
        if isinstance(value, Mapping):
            lines += ["", f"[{key}]", *_pairs(value)]
    for key, value in doc.items():
        if isinstance(value, list):
            for item in value:
                lines += ["", f"[[{key}]]", *_pairs(item)]
    return "\n".join(lines) + "\n"
