"""Timestamps as stored: ISO 8601 in UTC with milliseconds (GB/T 7408), which also sort as text."""

from __future__ import annotations

import datetime as dt

__all__ = ["utc_iso", "utc_now"]


def utc_iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a stored time must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def utc_now() -> str:
    return utc_iso(dt.datetime.now(dt.UTC))
