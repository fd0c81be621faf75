"""Archive and operator rows from files: a CSV row (all strings) or a TOML table (native types).

Field names are those of docs/scenarios.md's `[[cylinder]]` and `[[operator]]` tables; they are also the
CSV header of `fillfloor registry import`. A bad field raises `FieldError` naming the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.dates import as_date
from domain.models import DEFAULT_MODELS, CylinderModel

__all__ = [
    "ARCHIVE_FIELDS",
    "OPERATOR_FIELDS",
    "FieldError",
    "archive_from_row",
    "archive_to_row",
    "operator_from_row",
    "operator_to_row",
]

ARCHIVE_FIELDS = (
    "code", "owner", "model", "manufacturer", "serial", "property_no", "volume_l", "tare_kg",
    "manufactured", "last_inspection", "next_inspection", "scrap_date", "inspection_unit", "status",
)  # fmt: skip
OPERATOR_FIELDS = ("id", "name", "certificate_expires", "certificate_no")


class FieldError(ValueError):
    """A field of a row is missing, unknown or malformed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _present(row: Mapping[str, object], name: str) -> object | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip() if isinstance(value, str) else value


def _text(row: Mapping[str, object], name: str, required: bool = False) -> str:
    value = _present(row, name)
    if value is None:
        if required:
            raise FieldError(name, "is required")
        return ""
    if not isinstance(value, str):
        raise FieldError(name, f"must be text, got {value!r}")
    if any(not ch.isprintable() for ch in value):
        raise FieldError(name, "contains control characters")
    return value


def _decimal(row: Mapping[str, object], name: str, required: bool = False) -> Decimal | None:
    value = _present(row, name)
    if value is None:
        if required:
            raise FieldError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise FieldError(name, f"must be a number, got {value!r}")
    try:
        # str() first: 15.2 as a float is 15.199999…; the file said 15.2.
        number = Decimal(str(value))
    except InvalidOperation:
        raise FieldError(name, f"must be a number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise FieldError(name, f"must be a non-negative number, got {value!r}")
    return number


def _date(row: Mapping[str, object], name: str, required: bool = False) -> dt.date | None:
    value = _present(row, name)
    if value is None:
        if required:
            raise FieldError(name, "is required")
        return None
    day = as_date(value)
    if day is None:
        raise FieldError(name, f"must be a date YYYY-MM-DD, got {value!r}")
    return day


def _no_unknown(row: Mapping[str, object], known: tuple[str, ...]) -> None:
    for key in row:
        if key is None:  # csv.DictReader files values beyond the header under None
            raise FieldError("(row)", "has more values than the header has columns")
        if key not in known:
            raise FieldError(str(key), f"unknown field (known: {', '.join(known)})")


def archive_from_row(
    row: Mapping[str, object], models: Mapping[str, CylinderModel] | None = DEFAULT_MODELS
) -> CylinderArchive:
    """An archive from a CSV row (strings, empty = absent) or a TOML table (native types).

    Required: code, owner, model (one of `models`), tare_kg (> 0). A number from a TOML float goes
    through str() so that 15.2 stays 15.2. `blocked` and `photos` are not row fields: the unit and
    the regulator set them, not an import. `models=None` takes any model name (the registry sync:
    the platform's archive is the truth; the interlock refuses a model this floor does not know).
    """
    _no_unknown(row, ARCHIVE_FIELDS)
    model = _text(row, "model", required=True)
    if models is not None and model not in models:
        raise FieldError("model", f"unknown model {model!r} (known: {', '.join(models)})")
    status_text = _text(row, "status") or CylinderStatus.IN_SERVICE.value
    try:
        status = CylinderStatus(status_text)
    except ValueError:
        known = ", ".join(s.value for s in CylinderStatus)
        raise FieldError("status", f"must be one of {known}, got {status_text!r}") from None
    tare = _decimal(row, "tare_kg", required=True)
    if tare is not None and tare == 0:
        raise FieldError("tare_kg", "must be above zero")
    archive = CylinderArchive(
        code=_text(row, "code", required=True),
        owner=_text(row, "owner", required=True),
        model=model,
        tare_kg=tare,
        manufactured=_date(row, "manufactured"),
        last_inspection=_date(row, "last_inspection"),
        next_inspection=_date(row, "next_inspection"),
        scrap_date=_date(row, "scrap_date"),
        status=status,
        manufacturer=_text(row, "manufacturer"),
        serial=_text(row, "serial"),
        property_no=_text(row, "property_no"),
        volume_l=_decimal(row, "volume_l"),
        inspection_unit=_text(row, "inspection_unit"),
    )
    if (
        archive.manufactured is not None
        and archive.last_inspection is not None
        and archive.last_inspection < archive.manufactured
    ):
        raise FieldError("last_inspection", "is before the manufacture date")
    return archive


def archive_to_row(archive: CylinderArchive) -> dict[str, object]:
    """The row `archive_from_row` reads back to the same archive (absent fields omitted)."""
    row: dict[str, object] = {}
    for name in ARCHIVE_FIELDS:
        value = getattr(archive, name)
        if value is None or value == "":
            continue
        row[name] = value.value if isinstance(value, CylinderStatus) else value
    return row


def operator_from_row(row: Mapping[str, object]) -> Operator:
    """An operator from a row: id, name and certificate_expires required, certificate_no optional."""
    _no_unknown(row, OPERATOR_FIELDS)
    expires = _date(row, "certificate_expires", required=True)
    assert expires is not None
    return Operator(
        id=_text(row, "id", required=True),
        name=_text(row, "name", required=True),
        certificate_expires=expires,
        certificate_no=_text(row, "certificate_no"),
    )


def operator_to_row(operator: Operator) -> dict[str, object]:
    """The row `operator_from_row` reads back to the same operator."""
    row: dict[str, object] = {
        "id": operator.id,
        "name": operator.name,
        "certificate_expires": operator.certificate_expires,
    }
    if operator.certificate_no:
        row["certificate_no"] = operator.certificate_no
    return row
