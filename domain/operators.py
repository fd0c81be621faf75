"""Who may fill: the operator's badge and certificate (TSG 23: filling staff hold a valid licence)."""

from __future__ import annotations

import datetime as dt

from domain.archive import Operator
from domain.reasons import Reason

__all__ = ["certificate_valid", "operator_reasons"]


def certificate_valid(operator: Operator, today: dt.date) -> bool:
    """Valid through its expiry date inclusive; expired from the day after."""
    return today <= operator.certificate_expires


def operator_reasons(operator: Operator | None, today: dt.date) -> tuple[Reason, ...]:
    """Why a badge cannot log in: unknown badge, or an expired certificate. Empty when it can."""
    if operator is None:
        return (Reason.OPERATOR_UNKNOWN,)
    if not certificate_valid(operator, today):
        return (Reason.OPERATOR_CERTIFICATE_EXPIRED,)
    return ()
