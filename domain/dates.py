"""Calendar arithmetic for the date rules (ISO 8601 dates, GB/T 7408)."""

from __future__ import annotations

import datetime as dt

__all__ = ["add_years", "as_date"]


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def as_date(value: object) -> dt.date | None:
    """A calendar date from a TOML date or an ISO 8601 `YYYY-MM-DD` string; None for anything else
    (a date and time included: a date field must not silently drop a time)."""
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None
