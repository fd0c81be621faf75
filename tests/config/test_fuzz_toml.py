"""Fuzzing the TOML files a person writes: the floor config (`fillfloor config check`) and the
scenario file of `fillfloor sim`. Whatever the file holds, loading it gives a config (holding only
numbers a rule can use) or a `TomlError` naming the file, the entry and the problem — never a raw
KeyError, TypeError, ValueError or RecursionError traceback, never exit status 1.
"""

from __future__ import annotations

import contextlib
import io
import math
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fillfloor.cli import main
from simulator.scenario import parse_scenario
from supervisor.config import parse_config
from supervisor.tomlcheck import TomlError, load_toml
from tests.support.strategies import examples, mutated, toml_values

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (ROOT / "docs" / "fillfloor.example.toml").read_text("utf-8")
MODEL = {"name": "YSP50", "water_volume_l": 118, "max_fill_kg": 49.5, "rated_net_kg": 48.5, "tolerance_kg": 1}
CONFIG = {**tomllib.loads(EXAMPLE_TEXT), "model": [MODEL]}
SCENARIOS = [
    tomllib.loads(p.read_text("utf-8")) for p in sorted((ROOT / "simulator" / "scenarios").glob("*.toml"))
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-toml")


def assert_names_the_file(error: TomlError, file: str, entry: str = "") -> None:
    assert str(error).startswith(f"{file}: {entry}")
    assert error.problem


def loaded(load: Callable[[dict[str, Any], str], T], doc: dict[str, Any], file: str) -> T | None:
    """What `load` makes of the document, or None when it is a TomlError naming the file."""
    try:
        return load(doc, file)
    except TomlError as exc:
        assert_names_the_file(exc, file)
        return None


def finite_numbers(value: object, where: str = "config") -> None:
    """Every number a loaded config holds is one a rule can compute with."""
    if attrs.has(type(value)):
        for a in attrs.fields(type(value)):
            finite_numbers(getattr(value, a.name), f"{where}.{a.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            finite_numbers(v, f"{where}.{k}")
    elif isinstance(value, list | tuple | frozenset):
        for i, v in enumerate(value):
            finite_numbers(v, f"{where}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), where
    elif isinstance(value, Decimal):
        assert value.is_finite(), where


@settings(max_examples=examples(400))
@given(mutated(CONFIG))
@example({**CONFIG, "station": [{**CONFIG["station"][0], "fill": {"weight_drop_kg": math.nan}}]})
@example({**CONFIG, "model": [{**MODEL, "max_fill_kg": math.inf, "rated_net_kg": math.inf}]})
@example({**CONFIG, "station": [{**CONFIG["station"][0], "fill": {"max_fill_time_s": math.inf}}]})
@example({**CONFIG, "station": [{**CONFIG["station"][0], "fill": {"settle_timeout_s": 10**400}}]})
def test_any_config_gives_a_config_or_a_toml_error_naming_the_entry(doc: dict[str, object]) -> None:
    config = loaded(parse_config, doc, "f.toml")
    if config is not None:
        finite_numbers(config)


def with_step(doc: dict[str, object], **step: object) -> dict[str, object]:
    return {**doc, "step": [step]}


@settings(max_examples=examples(400))
@given(st.sampled_from(SCENARIOS).flatmap(mutated))
@example(with_step(SCENARIOS[0], do="sleep", seconds=math.nan))  # (slept for NaN seconds: a crash mid-run)
@example(with_step(SCENARIOS[0], do="place", station="S1", cylinder="C", gross_kg=math.nan))
@example({**SCENARIOS[0], "station": [{"id": "S1", "flow_kg_s": 2.0, "valve_delay_ms": math.inf}]})
def test_any_scenario_gives_a_scenario_or_a_toml_error_naming_the_entry(doc: dict[str, object]) -> None:
    scenario = loaded(parse_scenario, doc, "s.toml")
    if scenario is not None:
        for step in scenario.steps:
            finite_numbers(step.args, f"step[{step.index}]")
        finite_numbers(scenario.stations)


@settings(max_examples=examples(200))
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
@example("a = " + "[" * 2000 + "]" * 2000)
@example("a = " + "{b = " * 2000 + "1" + "}" * 2000)
@example("a = " + "9" * 5000)  # beyond Python's int() digit limit
def test_any_text_is_a_document_or_a_toml_error(folder: Path, text: str) -> None:
    path = folder / "any.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    try:
        assert isinstance(load_toml(path), dict)
    except TomlError as exc:
        assert_names_the_file(exc, str(path))


LITERALS = ("nan", "-inf", "0", "-1", "1e400", '""', '"x"', "[]", "{}", "true", "1979-05-27T07:32:00Z",
            "07:32:00", "[[1]]", "99999999999999999999", "'('", '"\\u0000"', "9" * 5000)  # fmt: skip


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """The example file as a person might get it wrong: lines dropped, doubled, values replaced."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "double", "value", "value", "insert"]))
        if action == "drop":
            del lines[i]
        elif action == "double":
            lines.insert(i, lines[i])
        elif action == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(st.sampled_from(LITERALS))
        elif action == "insert":
            lines.insert(i, draw(st.sampled_from(["[x]", "[[station]]", "y = 1", "[station.scale]", "= 3"])))
    return "\n".join(lines)


@settings(max_examples=examples(30), deadline=None)
@given(edited(EXAMPLE_TEXT))
def test_config_check_on_any_edit_of_the_example_exits_0_or_2_with_a_message(folder: Path, text: str) -> None:
    path = folder / "fillfloor.toml"
    path.write_text(text, encoding="utf-8")
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        status = main(["config", "check", str(path)])
    assert status in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if status == 2:
        assert err.getvalue().startswith(f"fillfloor: {path}: ")
    else:
        assert "OK" in out.getvalue()


# One step of each kind, with the scenario it is valid in.
STEP_KINDS = {step["do"]: (doc, step) for doc in SCENARIOS for step in doc.get("step", [])}  # type: ignore[attr-defined]


@settings(max_examples=examples(60))
@given(toml_values)
def test_any_value_in_any_field_of_any_step_kind_is_taken_or_named(value: object) -> None:
    for doc, step in STEP_KINDS.values():
        for key in step:
            try:
                parse_scenario({**doc, "step": [{**step, key: value}]}, "s.toml")
            except TomlError as exc:
                assert_names_the_file(exc, "s.toml", "step[0]")
