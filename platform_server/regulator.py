"""What the regulator does: disable or enable a unit or one station, block or unblock a cylinder.

Some cities require that the regulator can disable a unit's filling scales remotely (DB4114/T
185-2023, docs/domain.md); the floor honours it when the change reaches it by registry sync. Every
action is kept (who, what, why) and, when it changed something, logged as a change for the unit
concerned. Repeating an action that is already in force changes nothing and logs nothing.
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlalchemy import Connection, insert, select, update

from platform_server import schema as t
from platform_server.archives import load_archive, save_archive
from platform_server.changes import append_change
from platform_server.errors import ApiError, Invalid
from platform_server.fields import Fields
from platform_server.floors import station_json, unit_json
from platform_server.parties import Party

__all__ = ["ACTIONS", "act"]

ACTIONS = ("disable", "enable", "block", "unblock")


def _unit_or_station(
    conn: Connection, f: Fields, enabled: bool, reason: str, at: str
) -> tuple[str, int | None]:
    code = f.text("unit", max_len=32)
    station_id = f.text("station", required=False, max_len=32)
    unit = conn.execute(select(t.unit).where(t.unit.c.code == code)).mappings().first()
    if unit is None:
        raise ApiError(404, "unit.unknown", f"no unit {code!r}", field="unit")
    assert code is not None
    if station_id is None:
        if bool(unit["enabled"]) == enabled:
            return code, None
        conn.execute(update(t.unit).where(t.unit.c.code == code).values(enabled=enabled, reason=reason))
        row = conn.execute(select(t.unit).where(t.unit.c.code == code)).mappings().one()
        cause = "regulator_enable" if enabled else "regulator_disable"
        return code, append_change(conn, code, "unit", cause, unit_json(row), at)
    where = (t.station.c.unit == code) & (t.station.c.id == station_id)
    station = conn.execute(select(t.station).where(where)).mappings().first()
    if station is None:
        raise ApiError(404, "station.unknown", f"no station {station_id!r} of unit {code}", field="station")
    target = f"{code}/{station_id}"
    if bool(station["enabled"]) == enabled:
        return target, None
    conn.execute(update(t.station).where(where).values(enabled=enabled, reason=reason))
    row = conn.execute(select(t.station).where(where)).mappings().one()
    cause = "regulator_enable" if enabled else "regulator_disable"
    return target, append_change(conn, code, "station", cause, station_json(row), at)


def _cylinder(conn: Connection, f: Fields, blocked: bool, at: str) -> tuple[str, int | None]:
    code = f.text("cylinder", max_len=64)
    assert code is not None
    archive = load_archive(conn, code)
    if archive is None:
        raise ApiError(404, "cylinder.unknown", f"no archive for {code!r}", field="cylinder")
    if archive.blocked == blocked:
        return code, None
    cause = "regulator_block" if blocked else "regulator_unblock"
    return code, save_archive(conn, attrs.evolve(archive, blocked=blocked), cause, at, new=False)


def act(conn: Connection, regulator: Party, body: object, at: str) -> dict[str, Any]:
    """Carry out one action; answers the target, whether it changed anything, and the change number."""
    f = Fields(body)
    f.only(("action", "unit", "station", "cylinder", "reason"))
    action = f.choice("action", ACTIONS)
    reason = f.text("reason", required=False, max_len=1000) or ""
    if action in ("disable", "enable"):
        if "cylinder" in f.obj:
            raise Invalid("cylinder", f"{action} acts on a unit or a station, not a cylinder")
        target, seq = _unit_or_station(conn, f, action == "enable", reason, at)
    else:
        if "unit" in f.obj or "station" in f.obj:
            raise Invalid("unit" if "unit" in f.obj else "station", f"{action} acts on a cylinder")
        target, seq = _cylinder(conn, f, action == "block", at)
    assert action is not None
    conn.execute(
        insert(t.regulator_action).values(
            party=regulator.id, action=action, target=target, reason=reason, at=at
        )
    )
    return {"action": action, "target": target, "changed": seq is not None, "change": seq}
