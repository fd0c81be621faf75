"""What a unit registers about its floor: its stations (filling scales) and its operators.

Stations are what the regulator can disable one by one (DB4114/T 185-2023: remote disable of a
unit's filling scales); operators (充装工, with their certificates) reach every floor of the unit
through the change log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from domain.archive import Operator
from domain.rows import FieldError, operator_from_row, operator_to_row
from platform_server import schema as t
from platform_server.changes import append_change
from platform_server.fields import Fields

__all__ = ["register_operators", "register_stations", "station_json", "unit_json"]

_MAX = 1000


def station_json(r: Any) -> dict[str, Any]:
    return {
        "unit": r["unit"],
        "id": r["id"],
        "name": r["name"],
        "enabled": bool(r["enabled"]),
        "reason": r["reason"],
    }


def unit_json(r: Any) -> dict[str, Any]:
    return {
        "code": r["code"],
        "short_name": r["short_name"],
        "enabled": bool(r["enabled"]),
        "reason": r["reason"],
    }


def register_stations(conn: Connection, unit: str, body: object, at: str) -> list[dict[str, Any]]:
    """Stations by id: `registered` when new, `unchanged` or `updated` (its name) otherwise."""
    top = Fields(body)
    top.only(("stations",))
    items = []
    for i, item in enumerate(top.objects("stations", max_items=_MAX)):
        f = Fields(item, f"stations[{i}]")
        f.only(("id", "name"))
        items.append((f.text("id", max_len=32), f.text("name", required=False, max_len=128) or ""))
    results: list[dict[str, Any]] = []
    for sid, name in items:
        where = (t.station.c.unit == unit) & (t.station.c.id == sid)
        row = conn.execute(select(t.station).where(where)).mappings().first()
        if row is not None and row["name"] == name:
            results.append({"id": sid, "status": "unchanged"})
            continue
        if row is None:
            conn.execute(insert(t.station).values(unit=unit, id=sid, name=name, enabled=True, reason=""))
        else:
            conn.execute(update(t.station).where(where).values(name=name))
        new = conn.execute(select(t.station).where(where)).mappings().one()
        cause = "registered" if row is None else "updated"
        seq = append_change(conn, unit, "station", cause, station_json(new), at)
        results.append({"id": sid, "status": cause, "change": seq})
    return results


def _operator_row(r: Any) -> Operator:
    return Operator(r["id"], r["name"], r["certificate_expires"], r["certificate_no"])


def register_operators(conn: Connection, unit: str, body: object, at: str) -> list[dict[str, Any]]:
    """Operators by badge id: registered, updated, unchanged, or rejected naming the bad field."""
    top = Fields(body)
    top.only(("operators",))
    items = top.objects("operators", max_items=_MAX)
    results: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        f = Fields(item, f"operators[{i}]")
        op_id = f.text("id", max_len=64)
        try:
            op = operator_from_row(f.obj)
        except FieldError as exc:
            detail = {"field": f.name(exc.field), "detail": exc.problem}
            results.append({"id": op_id, "status": "rejected", "reason": "operator.bad_field", **detail})
            continue
        where = (t.operator.c.unit == unit) & (t.operator.c.id == op.id)
        row = conn.execute(select(t.operator).where(where)).mappings().first()
        if row is not None and _operator_row(row) == op:
            results.append({"id": op.id, "status": "unchanged"})
            continue
        values = {
            "name": op.name,
            "certificate_expires": op.certificate_expires,
            "certificate_no": op.certificate_no,
        }
        if row is None:
            conn.execute(insert(t.operator).values(unit=unit, id=op.id, **values))
        else:
            conn.execute(update(t.operator).where(where).values(**values))
        cause = "registered" if row is None else "updated"
        data = {**operator_to_row(op), "certificate_no": op.certificate_no}
        seq = append_change(conn, unit, "operator", cause, data, at)
        results.append({"id": op.id, "status": cause, "change": seq})
    return results
