"""Errors that carry a user-facing message (exit status 2 at the CLI)."""

from __future__ import annotations

__all__ = ["BadInput"]


class BadInput(Exception):
    """Input a person can fix: a bad file, row, key or argument. The message says where and what."""
