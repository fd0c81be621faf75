"""Pre-fill and post-fill checks: the check items, what an item's answer means, and when a check
counts as a pass.

Sources: the check items are the pre-fill refusals found in practice and the post-fill checks
(TSG 23-2021; GB 17267; docs/domain.md, "Checks"). A check terminal (采集设备) answers every item;
a check counts as a pass only when it says pass *and* every item of its phase was checked and
passed, so a pass with items left unchecked cannot let a cylinder fill (`precheck.incomplete`).
A fail names at least one failed item, so the record says what was wrong.

An item's answer is one of three states. Terminals and scenario files spell them in a few ways
(`ok`, `normal` and `none` for "no leak" all mean passed); an answer in none of the spellings is
not a pass (the safe side) and a console refuses it as unreadable.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from attrs import frozen

from domain.messages import CheckPhase

__all__ = [
    "CHECK_ITEMS",
    "CheckEntry",
    "ItemState",
    "answered_in_full",
    "check_problem",
    "counts_as_pass",
    "item_state",
    "standard_items",
]


class ItemState(StrEnum):
    OK = "ok"  # checked and passed
    FAILED = "failed"  # checked and found wrong
    NOT_CHECKED = "not_checked"


# The check items of each phase: key, Chinese text, English text. Keys are contracts (records,
# the console protocol, scenario files); texts are for screens.
CHECK_ITEMS: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "pre": (
        ("markings", "标志与颜色", "markings and colour"),
        ("accessories", "附件（护罩、底座、手轮）", "accessories (shroud, base, handwheel)"),
        ("residual_pressure", "有余压", "residual pressure"),
        ("fire_damage", "无火烤或烫伤", "no fire damage"),
        ("body", "无严重腐蚀、凹陷、变形", "no corrosion, dents, deformation"),
        ("valve", "瓶阀与压盖紧固、标准阀", "valve and gland tight, standard valve"),
    ),
    "post": (
        ("reweigh", "复秤", "re-weighed"),
        ("leak", "瓶阀、瓶颈、瓶体无泄漏", "no leak at valve, neck, body"),
        ("temperature", "瓶壁温度正常", "wall temperature normal"),
        ("bulge", "无鼓包", "no bulge"),
        ("seal", "封口/瓶帽完好", "seal and cap in place"),
    ),
}

_SPELLINGS: Mapping[str, ItemState] = {
    **dict.fromkeys(("ok", "pass", "passed", "normal", "none", "合格", "正常", "无"), ItemState.OK),
    **dict.fromkeys(("failed", "fail", "ng", "不合格"), ItemState.FAILED),
    **dict.fromkeys(("not_checked", "unchecked", "未检"), ItemState.NOT_CHECKED),
}


def standard_items(phase: str) -> tuple[str, ...]:
    """The item keys a check of this phase must answer."""
    return tuple(key for key, _, _ in CHECK_ITEMS[phase])


def item_state(answer: str) -> ItemState | None:
    """What an item's answer means; None for an answer in none of the known spellings."""
    return _SPELLINGS.get(answer.strip().lower())


def counts_as_pass(phase: str, passed: bool, items: Mapping[str, str]) -> bool:
    """A pass whose every standard item was checked and passed, and no item (standard or extra)
    answered failed, not checked or unreadably."""
    if not passed:
        return False
    if any(item_state(items.get(key, "")) != ItemState.OK for key in standard_items(phase)):
        return False
    return all(item_state(answer) == ItemState.OK for answer in items.values())


def check_problem(phase: str, passed: bool, items: Mapping[str, str]) -> str | None:
    """Why a check terminal's submission is not a well-formed check (None: it is).

    A pass must answer every item of its phase as checked and passed; a fail must name at least
    one failed item; every answer must be readable. The text names the items concerned.
    """
    unreadable = sorted(key for key, answer in items.items() if item_state(answer) is None)
    if unreadable:
        return "unreadable answers (ok, failed or not_checked): " + ", ".join(unreadable)
    if passed:
        keys = [*standard_items(phase), *sorted(k for k in items if k not in standard_items(phase))]
        open_items = [key for key in keys if item_state(items.get(key, "")) != ItemState.OK]
        if open_items:
            return "a pass needs every item checked and passed; not so: " + ", ".join(open_items)
        return None
    if not any(item_state(answer) == ItemState.FAILED for answer in items.values()):
        return "a fail names at least one failed item"
    return None


def answered_in_full(phase: str, passed: bool, named: Mapping[str, str]) -> dict[str, str]:
    """The items a check terminal submits for a result and the items a person named (a scenario
    step, docs/scenarios.md): every item not named is answered as passed, and a fail that names no
    failed item gets one (`other`), so that its record says it failed on something."""
    items = {key: str(ItemState.OK) for key in standard_items(phase)} | dict(named)
    if not passed and not any(item_state(answer) == ItemState.FAILED for answer in items.values()):
        items["other"] = str(ItemState.FAILED)
    return items


@frozen
class CheckEntry:
    """A check as the interlock needs it (the full record went to storage)."""

    record_id: str
    cylinder: str
    phase: CheckPhase
    passed: bool
    checker: str
    at: float  # monotonic
    complete: bool = True  # every item checked and passed (a pass without it does not count)
