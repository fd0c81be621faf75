"""Registry changes from the platform, read into what the floor applies (docs/platform-api.md,
"Registry changes").

Each change carries the new state of one thing, so applying it is an upsert. A change of a type
this floor does not know (a newer platform) is skipped; a change of a known type that does not
read is `BadChange`: the sync stops before it rather than guess, because the interlock decides
from what is applied here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen

from domain.archive import CylinderArchive, Operator
from domain.dates import as_date
from domain.rows import ARCHIVE_FIELDS, OPERATOR_FIELDS, FieldError, archive_from_row, operator_from_row

__all__ = [
    "ArchiveUpdate",
    "BadChange",
    "DisableUpdate",
    "InspectionUpdate",
    "OperatorUpdate",
    "RegistryUpdate",
    "read_change",
]


@frozen
class ArchiveUpdate:
    """The whole archive as the platform holds it. Its `blocked` is the regulator's block: applied,
    it is kept through the unit's re-imports, and only a later platform change lifts it."""

    archive: CylinderArchive


@frozen
class InspectionUpdate:
    """History only: the archive change that follows it carries the new dates."""

    code: str
    inspected_on: dt.date
    result: str  # pass | fail
    next_inspection: dt.date | None
    agency: str


@frozen
class OperatorUpdate:
    operator: Operator


@frozen
class DisableUpdate:
    """A regulator's disable (or enable): a station of ours, or the whole unit (station None)."""

    station: str | None
    disabled: bool


RegistryUpdate = ArchiveUpdate | InspectionUpdate | OperatorUpdate | DisableUpdate


class BadChange(Exception):
    def __init__(self, seq: object, problem: str) -> None:
        super().__init__(f"registry change {seq}: {problem}")
        self.seq = seq
        self.problem = problem


def _archive(data: Mapping[str, Any]) -> ArchiveUpdate:
    archive = archive_from_row({k: data.get(k) for k in ARCHIVE_FIELDS}, models=None)
    blocked, photos = data.get("blocked", False), data.get("photos") or []
    if not isinstance(blocked, bool):
        raise FieldError("blocked", f"must be true or false, got {blocked!r}")
    if not isinstance(photos, list) or not all(isinstance(p, str) for p in photos):
        raise FieldError("photos", "must be a list of content hashes")
    return ArchiveUpdate(attrs.evolve(archive, blocked=blocked, photos=tuple(photos)))


def _inspection(data: Mapping[str, Any]) -> InspectionUpdate:
    code, result = data.get("code"), data.get("result")
    inspected_on = as_date(data.get("inspected_on"))
    nxt = data.get("next_inspection")
    next_inspection = None if nxt is None else as_date(nxt)
    if not isinstance(code, str) or not code:
        raise FieldError("code", "is required")
    if result not in ("pass", "fail"):
        raise FieldError("result", f"must be pass or fail, got {result!r}")
    if inspected_on is None:
        raise FieldError("inspected_on", "must be a date")
    if nxt is not None and next_inspection is None:
        raise FieldError("next_inspection", "must be a date")
    agency = data.get("agency")
    agency_text = agency if isinstance(agency, str) else ""
    return InspectionUpdate(code, inspected_on, result, next_inspection, agency_text)


def _enabled(data: Mapping[str, Any]) -> bool:
    enabled = data.get("enabled")
    if not isinstance(enabled, bool):
        raise FieldError("enabled", f"must be true or false, got {enabled!r}")
    return enabled


def _station_id(data: Mapping[str, Any]) -> str:
    station = data.get("id")
    if not isinstance(station, str) or not station:
        raise FieldError("id", "is required")
    return station


def read_change(change: Mapping[str, Any], unit_code: str) -> RegistryUpdate | None:
    """One change as an update for this floor; None when it is not ours to apply."""
    seq, kind, data = change.get("seq"), change.get("type"), change.get("data")
    if not isinstance(data, dict):
        raise BadChange(seq, "data is not an object")
    try:
        if kind == "archive":
            return _archive(data)
        if kind == "inspection":
            return _inspection(data)
        if kind == "operator":
            return OperatorUpdate(operator_from_row({k: data.get(k) for k in OPERATOR_FIELDS}))
        if kind == "station":
            if data.get("unit") != unit_code:
                return None
            return DisableUpdate(_station_id(data), not _enabled(data))
        if kind == "unit":
            if data.get("code") != unit_code:
                return None
            return DisableUpdate(None, not _enabled(data))
    except FieldError as exc:
        raise BadChange(seq, f"{kind}: {exc}") from None
    return None  # a type this floor does not know yet
