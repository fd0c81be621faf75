"""Label parsing: plain codes, URLs, foreign units, garbage; never a crash."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.labels import LabelRule, looks_like_url, parse_label
from domain.reasons import Reason
from tests.support.strategies import UNIT, control_chars, foreign_codes, own_codes

RULE = LabelRule(unit_code=UNIT)


@given(st.text() | st.binary())
def test_parser_never_raises_and_always_decides(raw: str | bytes) -> None:
    result = parse_label(raw, RULE)
    assert (result.code is None) == (result.reason == Reason.LABEL_UNREADABLE)
    assert result.raw.isprintable()
    assert len(result.raw) <= 300


@given(
    own_codes,
    st.sampled_from(
        [
            "{c}",
            " {c}\r\n",
            "https://qp.example.cn/c?code={c}",
            "http://x.cn/a/b/{c}",
            "https://x.cn/t/{c}?from=app",
        ]
    ),
)
def test_own_code_is_accepted_in_every_carrier(code: str, form: str) -> None:
    result = parse_label(form.format(c=code), RULE)
    assert result.code == code
    assert result.reason is None


@given(foreign_codes)
def test_another_units_code_is_foreign(code: str) -> None:
    result = parse_label(code, RULE)
    assert result.reason == Reason.LABEL_FOREIGN_UNIT
    assert result.code == code


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "\r\n", "HY0012\x000123", "HY00120000123\x1b[31m", "HY0012" + "0" * 300,
     b"\xff\xfe\xfd", "https://x.cn/", "https://x.cn/?code=", "[red]HY0012[/red]", "HY0"],
)  # fmt: skip
def test_garbage_is_unreadable(raw: str | bytes) -> None:
    assert parse_label(raw, RULE).reason == Reason.LABEL_UNREADABLE


def test_configured_pattern_replaces_the_url_rule() -> None:
    rule = LabelRule(unit_code=UNIT, pattern=r"QP\|(?P<code>[A-Z0-9]+)\|.*")
    assert parse_label("QP|HY00120000123|v2", rule).code == "HY00120000123"
    assert parse_label("HY00120000123", rule).reason == Reason.LABEL_UNREADABLE


def test_query_parameter_name_is_a_setting() -> None:
    rule = LabelRule(unit_code=UNIT, query_param="id")
    assert parse_label(f"https://x.cn/q?id={quote('HY00120000123')}", rule).code == "HY00120000123"


@given(own_codes, st.data())
def test_a_control_character_inside_a_code_makes_it_unreadable(code: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(min_value=1, max_value=len(code) - 1))
    bad = code[:at] + data.draw(control_chars) + code[at:]
    assert parse_label(bad, RULE).reason == Reason.LABEL_UNREADABLE
    assert parse_label(f"https://x.cn/c?code={quote(bad)}", RULE).reason == Reason.LABEL_UNREADABLE


@given(own_codes, st.integers(min_value=1, max_value=400))
def test_over_long_input_is_unreadable(code: str, extra: int) -> None:
    text = code + "0" * (RULE.max_length - len(code) + extra)
    assert parse_label(text, RULE).reason == Reason.LABEL_UNREADABLE
    assert parse_label(text.encode(), RULE).reason == Reason.LABEL_UNREADABLE


@given(own_codes)
def test_bytes_from_a_serial_line_are_read_as_utf8(code: str) -> None:
    assert parse_label(code.encode() + b"\r\n", RULE).code == code


def test_the_unit_code_alone_is_not_a_cylinder_code() -> None:
    assert parse_label(UNIT, RULE).reason == Reason.LABEL_UNREADABLE
    assert parse_label(f"https://x.cn/u/{UNIT}", RULE).reason == Reason.LABEL_UNREADABLE


def test_url_detection() -> None:
    assert looks_like_url("HTTPS://X.CN/a")
    assert looks_like_url("http://x.cn/?code=1")
    assert not looks_like_url("ftp://x.cn/HY00120000123")
    assert not looks_like_url("HY00120000123")
    # Any other scheme is not a URL carrier: the whole text is taken as a code, which it is not.
    assert parse_label("ftp://x.cn/HY00120000123", RULE).reason == Reason.LABEL_UNREADABLE


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [({"unit_code": ""}, "unit_code"), ({"unit_code": "HY\n12"}, "unit_code"),
     ({"unit_code": UNIT, "max_length": 0}, "max_length"),
     ({"unit_code": UNIT, "code_pattern": "[a-"}, "code_pattern")],
)  # fmt: skip
def test_a_bad_rule_is_refused_at_configuration(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LabelRule(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", ["(", "no-group-[0-9]+"])
def test_bad_pattern_is_refused_at_configuration(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        LabelRule(unit_code=UNIT, pattern=pattern)


def test_device_text_is_shown_escaped() -> None:
    result = parse_label("AB\x1b[2J\x07", RULE)
    assert "\x1b" not in result.raw
    assert "\\x1b" in result.raw
