"""Holds: a cylinder that may not be filled until something is done about it.

Each hold is also a refusal reason of the interlock; holds are stored and rebuilt at start, so no
hold lives only in memory (a restart must not let an over-filled cylinder be filled again).
"""

from __future__ import annotations

from enum import StrEnum

from domain.reasons import Reason

__all__ = ["HOLD_REASONS", "Hold"]


class Hold(StrEnum):
    """Why a cylinder may not be filled until something is done about it (stored: a restart keeps
    every hold, rebuilt from `cylinder_hold` at start)."""

    OVERFILL = "overfill"  # over tolerance: the excess must be removed (cylinder.overfill_unresolved)
    POST_CHECK_FAILED = "post_check_failed"  # a leak, a bulge: handled, then checked again (blocked)
    POST_CHECK_MISSING = "post_check_missing"  # lifted off without its post-fill check (postcheck.missing)


HOLD_REASONS: dict[Hold, Reason] = {
    Hold.OVERFILL: Reason.CYLINDER_OVERFILL_UNRESOLVED,
    Hold.POST_CHECK_FAILED: Reason.CYLINDER_BLOCKED,
    Hold.POST_CHECK_MISSING: Reason.POSTCHECK_MISSING,
}
