"""Errors the API answers with: a status, a stable code, a detail for people, the field if any.

Every error body is `{"error": CODE, "detail": TEXT}` plus `"field"` when one field is at fault
(docs/platform-api.md, "Errors"). Codes are lowercase dotted identifiers, like reason codes (docs/domain.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ApiError", "Invalid", "invalid_body"]


class ApiError(Exception):
    """Answer the request with `status` and this error body."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        return out


class Invalid(ValueError):
    """A field of a body is missing or malformed. `field` is its path (`records[2].payload.seq`)."""

    def __init__(self, field: str, problem: str, *, missing: bool = False) -> None:
        # The path may hold a sender's key: kept short and UTF-8-encodable for the answer.
        field = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in field[:200])
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
        self.missing = missing


def invalid_body(exc: Invalid) -> ApiError:
    """A 422 naming the field."""
    return ApiError(422, "request.invalid", str(exc), field=exc.field)
