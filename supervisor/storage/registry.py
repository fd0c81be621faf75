"""The local registry: the filling unit, cylinder archives (with photos), inspections, operators and
the platform sync's cursor. What the interlock decides from while offline.

Plain functions on a connection, inside a transaction the caller opens; upserts are idempotent, so
importing or syncing the same data again changes nothing.

An archive has two writers: the platform (`upsert_archives`, the whole archive as the platform holds
it) and the unit's own file (`import_archives`). A block has two sources, kept apart: the regulator's
is the archive's `blocked` column, which only the platform sets and lifts; the unit's own is its
file's status `blocked`. The interlock refuses either (`cylinder.blocked`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs
from sqlalchemy import Connection, delete, insert, select, update

from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.times import utc_now
from supervisor.storage import schema as t
from supervisor.storage.registry_changes import bump_registry_changes

__all__ = [
    "archive_from_db_row",
    "get_cursor",
    "get_unit",
    "import_archives",
    "load_archive",
    "load_archives",
    "load_operators",
    "put_station_setting",
    "record_inspection",
    "regulator_disables",
    "set_cursor",
    "set_regulator_disabled",
    "set_unit",
    "upsert_archives",
    "upsert_operators",
]


def get_unit(conn: Connection) -> tuple[str, str] | None:
    """(code, short name) of this filling unit, once stored."""
    row = conn.execute(select(t.filling_unit.c.code, t.filling_unit.c.short_name)).first()
    return None if row is None else (row[0], row[1])


def set_unit(conn: Connection, code: str, short_name: str = "") -> None:
    """Store the unit on first use; a database belongs to one unit, so a later call keeps it."""
    if get_unit(conn) is None:
        conn.execute(insert(t.filling_unit).values(code=code, short_name=short_name))


def _archive_values(a: CylinderArchive) -> dict[str, Any]:
    return {
        "code": a.code, "owner": a.owner, "model": a.model, "tare_kg": a.tare_kg,
        "manufactured": a.manufactured, "last_inspection": a.last_inspection,
        "next_inspection": a.next_inspection, "scrap_date": a.scrap_date, "status": a.status.value,
        "blocked": a.blocked, "manufacturer": a.manufacturer, "serial": a.serial,
        "property_no": a.property_no, "volume_l": a.volume_l, "inspection_unit": a.inspection_unit,
    }  # fmt: skip


def archive_from_db_row(r: Any, photos: tuple[str, ...]) -> CylinderArchive:
    """An archive from a row of a table with the archive's columns (the floor's `cylinder`, the
    platform's `archive`), with its photos' content hashes."""
    return CylinderArchive(
        code=r["code"], owner=r["owner"], model=r["model"], tare_kg=r["tare_kg"],
        manufactured=r["manufactured"], last_inspection=r["last_inspection"],
        next_inspection=r["next_inspection"], scrap_date=r["scrap_date"],
        status=CylinderStatus(r["status"]), blocked=bool(r["blocked"]), manufacturer=r["manufacturer"],
        serial=r["serial"], property_no=r["property_no"], volume_l=r["volume_l"],
        inspection_unit=r["inspection_unit"], photos=photos,
    )  # fmt: skip


def _photos(conn: Connection, code: str | None = None) -> dict[str, tuple[str, ...]]:
    q = select(t.cylinder_photo).order_by(t.cylinder_photo.c.cylinder_code, t.cylinder_photo.c.position)
    if code is not None:
        q = q.where(t.cylinder_photo.c.cylinder_code == code)
    out: dict[str, list[str]] = {}
    for r in conn.execute(q).mappings():
        out.setdefault(r["cylinder_code"], []).append(r["content_hash"])
    return {k: tuple(v) for k, v in out.items()}


def upsert_archives(conn: Connection, archives: Iterable[CylinderArchive]) -> int:
    """Store archives by code as they are (the platform's, a scenario's); returns how many were new
    or changed (0 on a re-import)."""
    changed = sum(_store_archive(conn, archive, load_archive(conn, archive.code)) for archive in archives)
    if changed:
        bump_registry_changes(conn)  # a running floor reloads (supervisor/registry_watch.py)
    return changed


def import_archives(conn: Connection, archives: Iterable[CylinderArchive]) -> int:
    """Store the unit's own archives (`fillfloor registry import`); returns how many were new or
    changed. A file carries no block and no photos (`domain.rows`): those stored, the regulator's
    block and the platform's photos, are kept, so that a re-import never lifts a regulator's block
    (only the platform's unblock does) nor drops a photo."""
    changed = 0
    for archive in archives:
        current = load_archive(conn, archive.code)
        if current is not None:
            archive = attrs.evolve(archive, blocked=current.blocked, photos=current.photos)
        changed += _store_archive(conn, archive, current)
    if changed:
        bump_registry_changes(conn)  # a running floor reloads (supervisor/registry_watch.py)
    return changed


def _store_archive(conn: Connection, archive: CylinderArchive, current: CylinderArchive | None) -> bool:
    """Write `archive` over `current` (None: a new cylinder); False when they are the same."""
    if current == archive:
        return False
    values = _archive_values(archive)
    if current is None:
        conn.execute(insert(t.cylinder).values(**values, updated_at=utc_now()))
    else:
        where = t.cylinder.c.code == archive.code
        conn.execute(update(t.cylinder).where(where).values(**values, updated_at=utc_now()))
    if current is None or current.photos != archive.photos:
        conn.execute(delete(t.cylinder_photo).where(t.cylinder_photo.c.cylinder_code == archive.code))
        for position, digest in enumerate(archive.photos):
            conn.execute(
                insert(t.cylinder_photo).values(
                    cylinder_code=archive.code, position=position, content_hash=digest
                )
            )
    return True


def load_archive(conn: Connection, code: str) -> CylinderArchive | None:
    row = conn.execute(select(t.cylinder).where(t.cylinder.c.code == code)).mappings().first()
    return None if row is None else archive_from_db_row(row, _photos(conn, code).get(code, ()))


def load_archives(conn: Connection) -> dict[str, CylinderArchive]:
    photos = _photos(conn)
    return {
        r["code"]: archive_from_db_row(r, photos.get(r["code"], ()))
        for r in conn.execute(select(t.cylinder)).mappings()
    }


def record_inspection(
    conn: Connection,
    code: str,
    inspected_on: dt.date,
    result: str,
    next_inspection: dt.date | None,
    agency: str = "",
) -> None:
    """A periodic-inspection result (from the platform); a pass moves the archive's next date."""
    row = {
        "cylinder_code": code, "inspected_on": inspected_on, "result": result,
        "next_inspection": next_inspection, "agency": agency, "recorded_at": utc_now(),
    }  # fmt: skip
    conn.execute(insert(t.inspection).values(**row))
    if result == "pass":
        values: dict[str, Any] = {"last_inspection": inspected_on, "updated_at": utc_now()}
        if next_inspection is not None:
            values["next_inspection"] = next_inspection
        if agency:
            values["inspection_unit"] = agency
        conn.execute(update(t.cylinder).where(t.cylinder.c.code == code).values(**values))
        bump_registry_changes(conn)


def upsert_operators(conn: Connection, operators: Iterable[Operator]) -> int:
    """Store operators by badge id; returns how many were new or changed."""
    stored = load_operators(conn)
    changed = 0
    for op in operators:
        if stored.get(op.id) == op:
            continue
        values = {"name": op.name, "certificate_expires": op.certificate_expires,
                  "certificate_no": op.certificate_no}  # fmt: skip
        if op.id in stored:
            conn.execute(update(t.operator).where(t.operator.c.id == op.id).values(**values))
        else:
            conn.execute(insert(t.operator).values(id=op.id, **values))
        stored[op.id] = op
        changed += 1
    if changed:
        bump_registry_changes(conn)  # a running floor reloads (supervisor/registry_watch.py)
    return changed


def load_operators(conn: Connection) -> dict[str, Operator]:
    return {
        r["id"]: Operator(r["id"], r["name"], r["certificate_expires"], r["certificate_no"])
        for r in conn.execute(select(t.operator)).mappings()
    }


def get_cursor(conn: Connection, name: str = "registry") -> str | None:
    """Where the platform sync's registry feed `name` left off."""
    q = select(t.registry_cursor.c.cursor).where(t.registry_cursor.c.name == name)
    return conn.execute(q).scalar_one_or_none()


def set_cursor(conn: Connection, cursor: str, name: str = "registry") -> None:
    where = t.registry_cursor.c.name == name
    if conn.execute(select(t.registry_cursor.c.name).where(where)).first() is None:
        conn.execute(insert(t.registry_cursor).values(name=name, cursor=cursor, updated_at=utc_now()))
    else:
        conn.execute(update(t.registry_cursor).where(where).values(cursor=cursor, updated_at=utc_now()))


def put_station_setting(conn: Connection, station: str, key: str, value: str) -> None:
    """Store one setting of a station (insert or replace)."""
    where = (t.station_setting.c.station == station) & (t.station_setting.c.key == key)
    if conn.execute(select(t.station_setting).where(where)).first() is None:
        conn.execute(insert(t.station_setting).values(station=station, key=key, value=value))
    else:
        conn.execute(update(t.station_setting).where(where).values(value=value))


# A regulator's disable is kept as a station setting; the whole unit's under a name no station has
# (station ids begin with a letter), so that a floor restarted offline still honours it.
_DISABLED = "regulator_disabled"
_WHOLE_UNIT = "*"


def set_regulator_disabled(conn: Connection, station: str | None, disabled: bool) -> None:
    """A regulator's disable or enable from the platform: a station, or the whole unit (None)."""
    put_station_setting(
        conn, _WHOLE_UNIT if station is None else station, _DISABLED, "1" if disabled else "0"
    )


def regulator_disables(conn: Connection) -> set[str | None]:
    """What the regulator has disabled: station ids, and None for the whole unit."""
    q = select(t.station_setting.c.station).where(
        t.station_setting.c.key == _DISABLED, t.station_setting.c.value == "1"
    )
    disabled: list[str] = list(conn.execute(q).scalars())
    return {None if s == _WHOLE_UNIT else s for s in disabled}
