"""Checks: a pass counts only with every item checked and passed; a fail names what failed."""

from __future__ import annotations

from domain.checks import (
    ItemState,
    answered_in_full,
    check_problem,
    counts_as_pass,
    item_state,
    standard_items,
)

ALL_OK_PRE = dict.fromkeys(standard_items("pre"), "ok")


def test_a_pass_with_every_item_ok_counts() -> None:
    assert counts_as_pass("pre", True, ALL_OK_PRE)
    assert check_problem("pre", True, ALL_OK_PRE) is None


def test_a_pass_with_an_item_not_checked_or_missing_does_not_count() -> None:
    assert not counts_as_pass("pre", True, {**ALL_OK_PRE, "valve": "not_checked"})
    missing = {k: v for k, v in ALL_OK_PRE.items() if k != "body"}
    assert not counts_as_pass("pre", True, missing)
    assert check_problem("pre", True, missing) == ("a pass needs every item checked and passed; not so: body")


def test_a_pass_with_a_failed_or_unreadable_extra_item_does_not_count() -> None:
    assert not counts_as_pass("pre", True, {**ALL_OK_PRE, "appearance": "failed"})
    assert not counts_as_pass("pre", True, {**ALL_OK_PRE, "appearance": "leaking?"})
    assert "appearance" in (check_problem("pre", True, {**ALL_OK_PRE, "appearance": "x"}) or "")


def test_a_fail_must_name_a_failed_item() -> None:
    assert check_problem("post", False, {"leak": "ok"}) == "a fail names at least one failed item"
    assert check_problem("post", False, {"leak": "不合格"}) is None
    assert not counts_as_pass("post", False, dict.fromkeys(standard_items("post"), "ok"))


def test_spellings_of_the_three_states() -> None:
    assert [item_state(a) for a in ("OK", " normal ", "none", "合格")] == [ItemState.OK] * 4
    assert [item_state(a) for a in ("fail", "NG", "不合格")] == [ItemState.FAILED] * 3
    assert [item_state(a) for a in ("not_checked", "未检")] == [ItemState.NOT_CHECKED] * 2
    assert item_state("") is None
    assert item_state("maybe") is None


def test_a_scenario_result_alone_keeps_its_meaning() -> None:
    passed = answered_in_full("pre", True, {})
    assert counts_as_pass("pre", True, passed)
    failed = answered_in_full("pre", False, {})
    assert check_problem("pre", False, failed) is None
    assert failed["other"] == "failed"
    # Named items win over the defaults: a pass naming an unchecked item is incomplete.
    assert not counts_as_pass("pre", True, answered_in_full("pre", True, {"valve": "not_checked"}))
    # The shared example's wording: extra items and "none"/"normal" answers still pass.
    example = answered_in_full("post", True, {"leak": "none", "temperature": "normal", "seal": "ok"})
    assert counts_as_pass("post", True, example)
