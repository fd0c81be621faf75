"""Typed events: one class per type, one JSON form, and no code that matches an event by its string."""

from __future__ import annotations

import ast
import json
import math
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from domain.events import EVENT_TYPES, BadEvent, FillCompleted, FloorEvent, StationWeight, decode, encode
from simulator.events import _default as event_file_default

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("actors", "domain", "supervisor", "platform_client", "platform_server", "simulator", "fillfloor",
           "tui", "benchmarks")  # fmt: skip
_SAMPLES = {"str": "S1", "bool": True, "int": 3, "float": 1.5, "Decimal": Decimal("15.25"),
            "tuple[str, ...]": ("fill.overfill",)}  # fmt: skip


def _sample(cls: type[FloorEvent]) -> FloorEvent:
    """An event with every field set (optional ones too), from the field annotations."""
    return cls(**{a.name: _SAMPLES[str(a.type).removesuffix(" | None")] for a in attrs.fields(cls)})


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_every_event_reads_back_from_its_event_file_line(type_: str) -> None:
    event = _sample(EVENT_TYPES[type_])
    line = json.dumps(encode(event), default=event_file_default)
    assert json.loads(line)["type"] == type_
    assert decode(json.loads(line)) == event


def test_an_optional_field_that_is_empty_is_left_out_of_the_line() -> None:
    weight = StationWeight("S1", Decimal("15.5"), stable=True)
    assert encode(weight) == {"type": "station.weight", "station": "S1", "gross_kg": Decimal("15.5"),
                              "stable": True}  # fmt: skip


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ({"type": "fill.aborted", "station": "S1", "cylinder": "C1", "reason": "x"}, "record_id missing"),
        ({"type": "station.weight", "station": "S1", "gross_kg": "15", "stable": True}, "gross_kg is not"),
        ({"type": "station.weight", "station": "S1", "gross_kg": 15, "stable": 1}, "stable is not true"),
        ({"type": "interlock.refused", "station": "S1", "reasons": "cylinder.x"}, "reasons is not a list"),
        ({"type": "actor.health", "actor": "S1", "state": "up", "restarts": True}, "restarts is not a whole"),
        ({"type": "station.weight", "station": "S1", "gross_kg": math.nan, "stable": True}, "not a number"),
    ],
)
def test_a_line_that_does_not_hold_together_is_refused_naming_the_field(line: dict, complaint: str) -> None:
    with pytest.raises(BadEvent, match=complaint):
        decode(line)


def test_a_type_this_build_does_not_know_is_not_an_error() -> None:
    assert decode({"type": "sim.mass", "station": "S1", "gross_kg": 1.0}) is None
    assert decode({"no": "type"}) is None
    fill = {"type": "fill.completed", "station": "S1", "cylinder": "C1", "record_id": "r", "tare_kg": 15.2,
            "target_kg": 29.7, "gross_kg": 29.7, "net_kg": 14.5, "error_g": 0, "later": "field"}  # fmt: skip
    assert isinstance(decode(fill), FillCompleted)


# The dotted types: `scan` is also a scenario step (`do = "scan"`), another vocabulary.
_DOTTED = frozenset(t for t in EVENT_TYPES if "." in t)


def _string_matches(source: str, where: str) -> list[str]:
    """Comparisons (`==`, `!=`, `in`, `match … case`) against an event type written as a string."""
    found = []
    for node in ast.walk(ast.parse(source)):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                candidates += [operand, *getattr(operand, "elts", [])]
        elif isinstance(node, ast.MatchValue):
            candidates.append(node.value)
        found += [f"{where}:{c.lineno}: {c.value!r}" for c in candidates
                  if isinstance(c, ast.Constant) and c.value in _DOTTED]  # fmt: skip
    return found


def test_no_product_code_matches_an_event_by_its_type_string() -> None:
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative != "domain/events.py":
                found += _string_matches(path.read_text(encoding="utf-8"), relative)
    assert not found, "match on the event classes of domain.events (or `Class.TYPE`):\n" + "\n".join(found)


def test_the_string_match_check_finds_each_form() -> None:
    source = (
        "if e['type'] == 'fill.completed': pass\n"
        "if kind in ('alarm.raised', 'x'): pass\n"
        "match kind:\n"
        "    case 'check.recorded': pass\n"
        "if kind == FillCompleted.TYPE: pass\n"
    )
    assert _string_matches(source, "x.py") == ["x.py:1: 'fill.completed'", "x.py:2: 'alarm.raised'",
                                               "x.py:4: 'check.recorded'"]  # fmt: skip
