"""Cylinder archives on the platform: registration under the rules, storage, their JSON form.

Registration (赋码与录入, docs/domain.md "The system") refuses, with every reason that applies:
- what would stop a fill on the floor (`domain.eligibility`): another unit's property
  (`cylinder.not_own_property`), scrapped or cancelled, past the scrap date or service life,
  inspection overdue, blocked, no usable tare, unknown model;
- what the unit declares it found (`defects`): `registration.modified`, `registration.refurbished`,
  `registration.damaged`, `registration.corroded`, `registration.hazard`;
- `registration.code_taken` (the code belongs to another unit: codes are unique, a cylinder
  belongs to one unit), `registration.code_scrapped` (a scrapped cylinder's code is never reused),
  `registration.photo_missing` (a listed photo was not uploaded).
A unit may correct its own archive later, but only its descriptive fields and photos: ownership,
inspection dates, scrap date, status and blocks are the platform's (agencies, regulator,
transfers), so that a unit cannot make an overdue cylinder fillable by editing its archive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
from sqlalchemy import Connection, RowMapping, insert, select, update

from domain.archive import CylinderArchive, CylinderStatus
from domain.eligibility import eligibility_reasons
from domain.rows import ARCHIVE_FIELDS, FieldError, archive_from_row
from domain.settings import DomainSettings
from platform_server import schema as t
from platform_server.changes import append_change, json_value
from platform_server.errors import Invalid
from platform_server.fields import Fields
from supervisor.storage.registry import archive_from_db_row

__all__ = [
    "DEFECTS",
    "MAX_ARCHIVES",
    "archive_json",
    "load_archive",
    "register_archives",
    "save_archive",
    "seed_archives",
]

DEFECTS = ("modified", "refurbished", "damaged", "corroded", "hazard")
MAX_ARCHIVES = 1000
# The largest LPG cylinder (YSP118) weighs about 50 kg empty and holds 118 L: anything far above is
# a typing error or an attack, never a cylinder.
_LIMITS = {"tare_kg": Decimal(500), "volume_l": Decimal(1000)}
# The registry's column lengths (schema.archive).
_TEXT_LENGTHS = {
    "code": 64, "owner": 32, "model": 16, "manufacturer": 128, "serial": 64, "property_no": 64,
    "inspection_unit": 128,
}  # fmt: skip
# What a unit may change in an archive it registered before.
_UNIT_EDITABLE = ("model", "tare_kg", "manufacturer", "serial", "property_no", "volume_l", "photos")


def archive_json(a: CylinderArchive) -> dict[str, Any]:
    """Every archive field (absent ones null), plus `blocked` and `photos`: what a change carries."""
    out = {name: json_value(getattr(a, name)) for name in ARCHIVE_FIELDS}
    out.update(status=a.status.value, blocked=a.blocked, photos=list(a.photos))
    return out


def _from_row(r: RowMapping | Mapping[str, Any]) -> CylinderArchive:
    return archive_from_db_row(r, tuple(r["photos"] or ()))


def load_archive(conn: Connection, code: str) -> CylinderArchive | None:
    row = conn.execute(select(t.archive).where(t.archive.c.code == code)).mappings().first()
    return None if row is None else _from_row(row)


def save_archive(conn: Connection, a: CylinderArchive, cause: str, at: str, *, new: bool) -> int:
    """Store the archive and log the change for its owner; returns the change number."""
    values = {name: getattr(a, name) for name in ARCHIVE_FIELDS}
    values.update(status=a.status.value, blocked=a.blocked, photos=list(a.photos), updated_at=at)
    if new:
        conn.execute(insert(t.archive).values(**values, registered_at=at))
    else:
        conn.execute(update(t.archive).where(t.archive.c.code == a.code).values(**values))
    return append_change(conn, a.owner, "archive", cause, archive_json(a), at)


def seed_archives(conn: Connection, archives: Iterable[CylinderArchive], at: str) -> int:
    """Store archives as they are, without the registration rules: the registry a platform already
    holds (a scenario's, an import). Returns how many were new or changed."""
    changed = 0
    for a in archives:
        current = load_archive(conn, a.code)
        if current == a:
            continue
        save_archive(conn, a, "seeded", at, new=current is None)
        changed += 1
    return changed


def _photos_missing(conn: Connection, photos: Sequence[str]) -> bool:
    if not photos:
        return False
    found: Sequence[str] = (
        conn.execute(select(t.photo.c.sha256).where(t.photo.c.sha256.in_(list(photos)))).scalars().all()
    )
    return len(set(found)) < len(set(photos))


def _refusal(code: str | None, reasons: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {"code": code, "status": "refused", "reasons": list(dict.fromkeys(reasons)), **extra}


def _out_of_range(a: CylinderArchive) -> tuple[str, str] | None:
    """The first value outside what a cylinder can have or the registry can hold (field, why)."""
    for name, high in _LIMITS.items():
        value = getattr(a, name)
        if value is not None and not (value <= high and value.as_tuple().exponent >= -3):
            return name, f"must be at most {high} with at most 3 decimals, got {value:.6g}"
    for name, length in _TEXT_LENGTHS.items():
        if len(getattr(a, name)) > length:
            return name, f"longer than {length} characters"
    return None


def _register_one(
    conn: Connection, unit: str, f: Fields, today: dt.date, settings: DomainSettings, at: str
) -> dict[str, Any]:
    code = f.text("code", max_len=64)
    photos = f.obj.get("photos") or []
    if not isinstance(photos, list) or any(not isinstance(p, str) or len(p) != 64 for p in photos):
        return _refusal(
            code, ["archive.bad_field"], field=f.name("photos"), detail="a list of sha256 hex digests"
        )
    defects = f.strings("defects", required=False) or []
    unknown = [d for d in defects if d not in DEFECTS]
    if unknown:
        detail = f"unknown defect {unknown[0]!r} (known: {', '.join(DEFECTS)})"
        return _refusal(code, ["archive.bad_field"], field=f.name("defects"), detail=detail)
    row = {k: v for k, v in f.obj.items() if k not in ("photos", "defects")}
    if row.get("owner") is None:
        row["owner"] = unit
    try:
        archive = archive_from_row(row, settings.models)
    except FieldError as exc:
        return _refusal(code, ["archive.bad_field"], field=f.name(exc.field), detail=exc.problem)
    out_of_range = _out_of_range(archive)
    if out_of_range is not None:
        field, detail = out_of_range
        return _refusal(code, ["archive.out_of_range"], field=f.name(field), detail=detail)
    archive = attrs.evolve(archive, photos=tuple(photos))
    current = load_archive(conn, archive.code)
    reasons: list[str] = []
    if current is not None:
        if current.owner != unit:
            reasons.append("registration.code_taken")
        if current.status in (CylinderStatus.SCRAPPED, CylinderStatus.CANCELLED):
            reasons.append("registration.code_scrapped")
        kept = {k: getattr(current, k) for k in attrs.fields_dict(CylinderArchive) if k not in _UNIT_EDITABLE}
        archive = attrs.evolve(archive, **kept)
    reasons += [str(r) for r in eligibility_reasons(archive, unit, today, settings)]
    reasons += [f"registration.{d}" for d in defects]
    if _photos_missing(conn, archive.photos):
        reasons.append("registration.photo_missing")
    if reasons:
        return _refusal(archive.code, reasons)
    if current == archive:
        return {"code": archive.code, "status": "unchanged"}
    seq = save_archive(conn, archive, "registered" if current is None else "updated", at, new=current is None)
    return {"code": archive.code, "status": "registered" if current is None else "updated", "change": seq}


def register_archives(
    conn: Connection, unit: str, body: object, today: dt.date, settings: DomainSettings, at: str
) -> list[dict[str, Any]]:
    """Register a batch of archives for `unit`, each answered: registered, updated, unchanged, or
    refused with its reasons. A malformed envelope raises `Invalid` (a 422)."""
    top = Fields(body)
    top.only(("archives",))
    items = top.objects("archives", max_items=MAX_ARCHIVES)
    fields = []
    for i, item in enumerate(items):
        f = Fields(item, f"archives[{i}]")
        f.text("code", max_len=64)  # every answer names its archive
        fields.append(f)
    results = []
    for f in fields:
        try:
            results.append(_register_one(conn, unit, f, today, settings, at))
        except Invalid as exc:
            results.append(
                _refusal(f.obj.get("code"), ["archive.bad_field"], field=exc.field, detail=exc.problem)
            )
    return results
