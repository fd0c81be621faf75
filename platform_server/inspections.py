"""Periodic-inspection results posted by the inspection agencies (GB/T 8334; docs/domain.md "The system":
inspection agencies update the periodic-inspection data on the platform).

A pass moves the archive's last and next inspection dates (next: as posted, else the inspection
date + the interval); a fail scraps the cylinder. Both reach the owner's floors as changes: the
`inspection` itself, then the new `archive`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import Connection, insert

from domain.archive import CylinderStatus
from domain.dates import add_years
from domain.settings import DomainSettings
from platform_server import schema as t
from platform_server.archives import archive_json, load_archive, save_archive
from platform_server.changes import append_change
from platform_server.errors import ApiError, Invalid
from platform_server.fields import Fields
from platform_server.parties import Party

__all__ = ["post_inspection"]


def post_inspection(
    conn: Connection, agency: Party, body: object, today: dt.date, settings: DomainSettings, at: str
) -> dict[str, Any]:
    f = Fields(body)
    f.only(("cylinder", "result", "inspected_on", "next_inspection", "agency", "report_no"))
    code = f.text("cylinder", max_len=64)
    result = f.choice("result", ("pass", "fail"))
    inspected_on = f.date("inspected_on", required=False) or today
    next_date = f.date("next_inspection", required=False)
    agency_name = f.text("agency", required=False, max_len=128) or agency.name
    report_no = f.text("report_no", required=False, max_len=64) or ""
    if result == "pass":
        next_date = next_date or add_years(inspected_on, settings.inspection_interval_years)
        if next_date <= inspected_on:
            raise Invalid(f.name("next_inspection"), "must be after the inspection date")
    elif next_date is not None:
        raise Invalid(f.name("next_inspection"), "a failed cylinder is scrapped: no next inspection")
    assert code is not None
    archive = load_archive(conn, code)
    if archive is None:
        raise ApiError(404, "cylinder.unknown", f"no archive for {code!r}", field="cylinder")
    if archive.status in (CylinderStatus.SCRAPPED, CylinderStatus.CANCELLED):
        raise ApiError(409, "cylinder.scrapped", f"{code} is {archive.status.value}: nothing to inspect")
    row = {
        "cylinder_code": code, "inspected_on": inspected_on, "result": result, "next_inspection": next_date,
        "agency": agency_name, "party": agency.id, "report_no": report_no, "at": at,
    }  # fmt: skip
    key = conn.execute(insert(t.inspection).values(**row)).inserted_primary_key
    assert key is not None  # (an insert of one row)
    inspection_id = key[0]
    data = {"code": code, "inspected_on": inspected_on, "result": result, "next_inspection": next_date,
            "agency": agency_name, "report_no": report_no}  # fmt: skip
    seqs = [append_change(conn, archive.owner, "inspection", f"inspection_{result}", data, at)]
    if result == "pass":
        archive = attrs.evolve(
            archive, last_inspection=inspected_on, next_inspection=next_date, inspection_unit=agency_name
        )
    else:
        archive = attrs.evolve(archive, status=CylinderStatus.SCRAPPED)
    seqs.append(save_archive(conn, archive, f"inspection_{result}", at, new=False))
    return {"inspection": inspection_id, "archive": archive_json(archive), "changes": seqs}
