"""Reason codes are contracts: every code of DOMAIN.md exists, is spelled as there, and has texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain.models import DEFAULT_MODELS
from domain.reasons import FILL_ABORTS, REFUSALS, FillFlag, Reason, describe

DOMAIN_MD = Path(__file__).resolve().parents[2] / "shared" / "DOMAIN.md"


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


@pytest.mark.skipif(not DOMAIN_MD.exists(), reason="../shared/DOMAIN.md is not beside the project")
def test_every_code_named_in_domain_md_exists() -> None:
    text = DOMAIN_MD.read_text(encoding="utf-8")
    section = text[text.index("## Reason codes") :]
    named = set(re.findall(r"`([a-z]+\.[a-z_]+)`", section))
    assert named, "no codes found in DOMAIN.md"
    assert named <= {c.value for c in Reason}, named - {c.value for c in Reason}


def test_model_table_matches_domain_defaults() -> None:
    m = DEFAULT_MODELS["YSP35.5"]
    assert (str(m.max_fill_kg), str(m.rated_net_kg), str(m.tolerance_kg)) == ("14.9", "14.5", "0.5")
