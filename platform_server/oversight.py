"""What the regulator sees: a unit's progress, and a cylinder's trace across units.

Progress (issue #8): labels registered, fills per day, refusals by reason, over- and underfills,
and the sync lag (how old the newest uploaded record was when it arrived, and how long ago the
unit last uploaded). Figures are computed from the stored records on request.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, cast

from sqlalchemy import Connection, func, select

from platform_server import schema as t
from platform_server.archives import archive_json, load_archive
from platform_server.changes import json_value
from platform_server.errors import ApiError
from platform_server.floors import station_json, unit_json

__all__ = ["progress", "trace"]


def _seconds_between(earlier: str, later: str | dt.datetime) -> float | None:
    try:
        a = dt.datetime.fromisoformat(earlier)
        b = dt.datetime.fromisoformat(later) if isinstance(later, str) else later
        return round((b - a).total_seconds(), 3)
    except (ValueError, TypeError):
        return None


def _unit_progress(conn: Connection, u: Any, now: dt.datetime) -> dict[str, Any]:
    code = u["code"]
    stations = conn.execute(
        select(t.station).where(t.station.c.unit == code).order_by(t.station.c.id)
    ).mappings()
    status: dict[str, int] = dict(
        conn.execute(
            select(t.archive.c.status, func.count())
            .where(t.archive.c.owner == code)
            .group_by(t.archive.c.status)
        ).all()
    )
    blocked = conn.execute(
        select(func.count())
        .select_from(t.archive)
        .where(t.archive.c.owner == code, t.archive.c.blocked.is_(True))
    ).scalar_one()
    kinds: dict[str, int] = dict(
        conn.execute(
            select(t.record.c.kind, func.count()).where(t.record.c.unit == code).group_by(t.record.c.kind)
        ).all()
    )
    fills_by_day: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    q = (
        select(t.record.c.kind, t.record.c.at, t.record.c.payload)
        .where(t.record.c.unit == code, t.record.c.kind.in_(("fill", "refusal")))
        .execution_options(yield_per=2000)
    )
    with conn.execute(q) as rows:
        for kind, at, stored in rows:
            payload = cast("dict[str, Any]", stored)  # (a record's payload is a JSON object)
            if kind == "fill":
                outcomes[payload.get("outcome", "")] += 1
                if payload.get("outcome") == "completed":
                    fills_by_day[str(at)[:10]] += 1
                flags.update(payload.get("flags") or ())
            else:
                refusals.update(payload.get("reasons") or ())
    last = conn.execute(
        select(t.record.c.at, t.record.c.received_at)
        .where(t.record.c.unit == code)
        .order_by(t.record.c.id.desc())
        .limit(1)
    ).first()
    return {
        **unit_json(u),
        "stations": [station_json(s) for s in stations],
        "labels_registered": sum(status.values()),
        "archives_by_status": status,
        "archives_blocked": blocked,
        "records": {k: kinds.get(k, 0) for k in ("fill", "check", "refusal", "alarm")},
        "fills_by_day": dict(sorted(fills_by_day.items())),
        "fill_outcomes": dict(outcomes),
        "refusals_by_reason": dict(refusals.most_common()),
        "overfills": flags["overfill"],
        "underfills": flags["underfill"],
        "over_max": flags["over_max"],
        "last_received_at": last[1] if last else None,
        "sync_lag_s": _seconds_between(last[0], last[1]) if last else None,
        "since_last_upload_s": _seconds_between(last[1], now) if last else None,
    }


def progress(conn: Connection, unit: str | None, now: dt.datetime) -> dict[str, Any]:
    """Every unit's progress, or one unit's (404 when unknown)."""
    q = select(t.unit).order_by(t.unit.c.code)
    if unit is not None:
        q = q.where(t.unit.c.code == unit)
    units = conn.execute(q).mappings().all()
    if unit is not None and not units:
        raise ApiError(404, "unit.unknown", f"no unit {unit!r}", field="unit")
    return {"units": [_unit_progress(conn, u, now) for u in units]}


def trace(conn: Connection, code: str) -> dict[str, Any]:
    """Everything the platform knows of one cylinder, across units, in time order."""
    archive = load_archive(conn, code)
    transfers = conn.execute(
        select(t.transfer.c.from_unit, t.transfer.c.to_unit, t.transfer.c.document, t.transfer.c.at)
        .where(t.transfer.c.cylinder_code == code)
        .order_by(t.transfer.c.id)
    ).mappings()
    inspections = conn.execute(
        select(
            t.inspection.c.inspected_on,
            t.inspection.c.result,
            t.inspection.c.next_inspection,
            t.inspection.c.agency,
            t.inspection.c.report_no,
            t.inspection.c.at,
        )
        .where(t.inspection.c.cylinder_code == code)
        .order_by(t.inspection.c.id)
    ).mappings()
    records = conn.execute(
        select(
            t.record.c.record_id,
            t.record.c.kind,
            t.record.c.unit,
            t.record.c.station,
            t.record.c.at,
            t.record.c.received_at,
            t.record.c.payload,
        )
        .where(t.record.c.cylinder_code == code)
        .order_by(t.record.c.at, t.record.c.id)
    ).mappings()
    out = {
        "cylinder": code,
        "archive": None if archive is None else archive_json(archive),
        "transfers": [dict(r) for r in transfers],
        "inspections": [json_value(dict(r)) for r in inspections],
        "records": [dict(r) for r in records],
    }
    if archive is None and not out["records"]:
        raise ApiError(404, "cylinder.unknown", f"the platform knows nothing of {code!r}")
    return out
