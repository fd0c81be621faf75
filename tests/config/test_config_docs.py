"""docs/config.md against the classes that own the config: each key a settings class reads from
the file is documented in its table's row, and a default the row states is the class's default
(the classes are where a default is written; the page must follow them)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import pytest

from domain.labels import LabelRule
from domain.setting import limits_of
from domain.settings import DomainSettings
from supervisor.config import (
    ConsoleConfig,
    DeviceConfig,
    FillSettings,
    PlatformConfig,
    ScannerConfig,
    StationConfig,
    UnitConfig,
)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "config.md"
# Each table's row on the page, and the class it is read as (nested settings by their prefix).
TABLES: dict[str, tuple[type, dict[str, str]]] = {
    "`[unit]`": (UnitConfig, {}),
    "`[label]`": (LabelRule, {}),
    "`[rules]`": (DomainSettings, {}),
    "`[[station]]`": (StationConfig, {}),
    "`[station.scale]`, `[station.valve]`": (DeviceConfig, {}),
    "`[station.scanner]`": (ScannerConfig, {}),
    "`[station.fill]`": (FillSettings, {"preact": "preact_", "guard": "guard_"}),
    "`[console]`": (ConsoleConfig, {}),
    "`[platform]`": (PlatformConfig, {}),
}
# Fields that are a table or list of their own, documented in words rather than as a key.
OWN_TABLES = {"scale", "valve", "scanner", "fill"}


def _rows() -> dict[str, str]:
    text = PAGE.read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| (`\[[^|]+) \| (.+) \|$", text, re.M)}


def _defaults(cls: type, nested: dict[str, str], prefix: str = "") -> dict[str, Any]:
    """Each key the file may set, and the class's default (attrs.NOTHING: required)."""
    out: dict[str, Any] = {}
    for a in attrs.fields(cls):
        if a.name in OWN_TABLES or not limits_of(a).in_file:
            continue
        default = a.default.factory() if isinstance(a.default, attrs.Factory) else a.default  # type: ignore[misc]
        if a.name in nested:
            out.update(_defaults(type(default), {}, prefix + nested[a.name]))
        else:
            out[prefix + a.name] = default
    return out


def _documented(row: str) -> dict[str, str]:
    """`key` (default, ...) → the stated default as written (a backticked text, or a bare token)."""
    found = {}
    for m in re.finditer(r"`(\w+)`(?: \((`[^`]*`|[^,);:`]+))?", row):
        found[m.group(1)] = (m.group(2) or "").strip()
    return found


def _same(stated: str, default: Any) -> bool | None:
    """Whether the stated default is the class's; None when the words state no value."""
    if stated.startswith("`"):
        return stated.strip("`") == default if isinstance(default, str) else None
    if isinstance(default, bool):
        return {"true": True, "false": False}.get(stated) is default if stated in ("true", "false") else None
    if isinstance(default, dt.date):
        return stated == default.isoformat()
    if isinstance(default, int | float | Decimal):
        try:
            return Decimal(stated) == Decimal(str(default))
        except InvalidOperation:
            return None
    return None


@pytest.mark.parametrize("table", TABLES)
def test_every_key_is_documented_with_its_classs_default(table: str) -> None:
    cls, nested = TABLES[table]
    documented = _documented(_rows()[table])
    defaults = _defaults(cls, nested)
    assert set(defaults) <= set(documented), f"{table}: undocumented keys {set(defaults) - set(documented)}"
    wrong = {
        key: (documented[key], defaults[key])
        for key in defaults
        if defaults[key] is not attrs.NOTHING and _same(documented[key], defaults[key]) is False
    }
    assert not wrong, f"{table}: the page states other defaults than the classes (page, class): {wrong}"


def test_the_check_can_tell_a_wrong_default() -> None:
    for stated, default in (("502", 502), ("0.020", Decimal("0.02")), ("true", True), ("`tcp`", "tcp")):
        assert _same(stated, default) is True
    for stated, default in (("503", 502), ("0.2", 0.25), ("false", True), ("`udp`", "tcp")):
        assert _same(stated, default) is False
    assert _same("RTU", "") is None  # (words, not a value: not judged)
