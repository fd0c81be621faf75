"""The scan-to-fill interlock (扫码充装联锁) as one pure function: every reason that applies.

docs/station.md, "The interlock": fill only when all six hold — (1) an operator with a valid
certificate is logged in; (2) a label was scanned and parsed and its code is this unit's; (3) the
archive exists and the cylinder is eligible today; (4) a passing pre-fill check was recorded within
the window; (5) the cylinder is on this scale, the reading is stable and the tare is plausible;
(6) no other station holds the cylinder, and the station is not paused, faulted or disabled.

`Facts` is what the coordinator knows at one moment; `refusal_reasons` says, in a stable order,
every reason the permit cannot be granted (docs/domain.md codes). Empty means all six hold. The
coordinator grants the permit only on an empty answer computed at that same moment, and the
property tests check exactly that.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from attrs import frozen

from domain.archive import CylinderArchive, Operator
from domain.checks import CheckEntry
from domain.eligibility import eligibility_reasons
from domain.filling import tare_reasons
from domain.holds import HOLD_REASONS, Hold
from domain.labels import LabelResult
from domain.operators import operator_reasons
from domain.reasons import Reason
from domain.settings import DomainSettings

__all__ = ["Facts", "refusal_reasons", "same_as_underfill"]


@frozen
class Facts:
    station: tuple[Reason, ...]  # paused, fault, out of service, disabled, a device actor down
    badge: str | None  # who is logged in at the station (a badge id), if anyone
    operator: Operator | None  # that badge's registry entry, if known
    label: LabelResult | None  # the scanned label, if any
    archive: CylinderArchive | None
    held_elsewhere: bool  # another station holds this cylinder
    holds: frozenset[Hold]  # an unresolved overfill, a failed or a missing post-fill check
    precheck: CheckEntry | None  # the newest pre-fill check within the window
    present: bool  # something is on the scale
    stable: bool
    gross_kg: Decimal | None
    # The re-weighed gross of its last fill here when that fill was an under-fill: a top-up may
    # start from it (not refused for residue) if the scale shows the same weight.
    topup_from_kg: Decimal | None = None


def refusal_reasons(
    facts: Facts,
    *,
    unit_code: str,
    today: dt.date,
    rules: DomainSettings,
    allowed_models: frozenset[str] | None = None,
) -> tuple[Reason, ...]:
    reasons: list[Reason] = list(facts.station)
    # (1) the operator
    if facts.badge is None:
        reasons.append(Reason.OPERATOR_NONE)
    else:
        reasons.extend(operator_reasons(facts.operator, today))
    # (2) the label, (3) the archive
    label = facts.label
    if label is None or label.reason is not None or label.code is None:
        # (a foreign unit's label carries a code, shown and stored, but it is not looked up here)
        reasons.append(label.reason if label is not None and label.reason else Reason.LABEL_UNREADABLE)
    else:
        reasons.extend(eligibility_reasons(facts.archive, unit_code, today, rules, allowed_models))
        if Hold.POST_CHECK_FAILED in facts.holds:
            reasons.append(HOLD_REASONS[Hold.POST_CHECK_FAILED])
        if facts.held_elsewhere:
            reasons.append(Reason.CYLINDER_IN_USE)
        reasons.extend(HOLD_REASONS[h] for h in (Hold.OVERFILL, Hold.POST_CHECK_MISSING) if h in facts.holds)
        # (4) the pre-fill check: a pass counts only with every item checked and passed
        if facts.precheck is None:
            reasons.append(Reason.PRECHECK_MISSING)
        elif not facts.precheck.passed:
            reasons.append(Reason.PRECHECK_FAILED)
        elif not facts.precheck.complete:
            reasons.append(Reason.PRECHECK_INCOMPLETE)
    # (5) the scale
    if not facts.present:
        reasons.append(Reason.SCALE_NO_CYLINDER)
    elif not facts.stable or facts.gross_kg is None:
        reasons.append(Reason.SCALE_UNSTABLE)
    elif facts.archive is not None and not _same_as_underfill(facts, rules):
        reasons.extend(tare_reasons(facts.gross_kg, facts.archive, rules))
    return tuple(dict.fromkeys(reasons))  # each once, first place kept


def _same_as_underfill(facts: Facts, rules: DomainSettings) -> bool:
    return same_as_underfill(facts.gross_kg, facts.topup_from_kg, rules)


def same_as_underfill(gross_kg: Decimal | None, underfill_kg: Decimal | None, rules: DomainSettings) -> bool:
    """An under-filled cylinder back for its top-up weighs what its fill left it (within the empty
    weight's tolerance); anything else is judged as any cylinder is (residue, missing parts)."""
    if gross_kg is None or underfill_kg is None:
        return False
    return abs(gross_kg - underfill_kg) <= rules.tare_tolerance_kg
