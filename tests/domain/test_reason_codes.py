"""Reason codes are contracts: every code has texts, and docs/domain.md lists every code, in its
place (refusal, abort, fill flag), and no code that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from domain.models import DEFAULT_MODELS
from domain.reasons import FILL_ABORTS, REFUSALS, FillFlag, Reason, describe

DOMAIN_MD = Path(__file__).resolve().parents[2] / "docs" / "domain.md"
CODE = re.compile(r"`([a-z]+\.[a-z_]+|overfill|underfill|over_max)`")


def test_every_code_has_a_chinese_and_an_english_text() -> None:
    for code in [*Reason, *FillFlag]:
        zh, en = describe(code, "zh"), describe(code, "en")
        assert zh != code, code
        assert en != code, code
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{code}: Chinese text expected, got {zh!r}"


def test_codes_are_lowercase_dotted_identifiers() -> None:
    for code in Reason:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", code), code


def test_refusals_and_aborts_partition_the_codes() -> None:
    assert frozenset(Reason) == REFUSALS | FILL_ABORTS
    assert not REFUSALS & FILL_ABORTS
    assert Reason.FILL_HARD_CAP in FILL_ABORTS
    assert Reason.TARE_RESIDUAL_EXCESS in REFUSALS


def test_unknown_code_is_shown_as_itself() -> None:
    assert describe("no.such_code") == "no.such_code"


def _section(heading: str) -> str:
    """The text of one section of docs/domain.md, up to the next heading of the same level or above."""
    text = DOMAIN_MD.read_text(encoding="utf-8")
    level = heading.split(" ")[0]
    body = text.index(heading + "\n") + len(heading) + 1
    end = re.search(rf"^#{{1,{len(level)}}} ", text[body:], flags=re.M)
    return text[body : body + end.start()] if end else text[body:]


def _listed(heading: str) -> set[str]:
    """The codes in the first column of the section's tables."""
    rows = re.findall(r"^\| `([^`]+)` \|", _section(heading), flags=re.M)
    return set(rows)


def test_every_reason_code_is_listed_in_docs_domain_md() -> None:
    named = set(CODE.findall(_section("## Reason codes")))
    missing = sorted({c.value for c in Reason} - named)
    assert not missing, f"docs/domain.md, Reason codes, lacks {missing}"


def test_docs_domain_md_lists_refusals_aborts_and_flags_in_their_places() -> None:
    assert _listed("### Refusals (before filling; the valve stays closed)") == {c.value for c in REFUSALS}
    assert _listed("### Fill aborts (the valve closes at once)") == {c.value for c in FILL_ABORTS}
    assert _listed("## Fill flags after re-weigh") == {f.value for f in FillFlag}


def test_docs_domain_md_names_no_code_that_does_not_exist() -> None:
    named = set(CODE.findall(_section("## Reason codes")))
    assert named, "no codes found in docs/domain.md, Reason codes"
    assert named <= {c.value for c in Reason} | {f.value for f in FillFlag}, named - {c.value for c in Reason}


def test_the_listing_check_would_see_a_missing_code() -> None:
    table = _section("### Fill aborts (the valve closes at once)")
    assert "`fill.hard_cap`" in table
    assert "fill.hard_cap" not in CODE.findall(table.replace("`fill.hard_cap`", "hard cap"))


def test_model_table_matches_domain_defaults() -> None:
    m = DEFAULT_MODELS["YSP35.5"]
    assert (str(m.max_fill_kg), str(m.rated_net_kg), str(m.tolerance_kg)) == ("14.9", "14.5", "0.5")
