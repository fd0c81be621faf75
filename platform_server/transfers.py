"""Property transfer (产权转移) of a cylinder into the unit that asks, the previous owner kept.

The receiving unit names the cylinder and the unit it comes from (and the transfer document, if
any); the platform checks the previous owner is the one on record and the cylinder is not
scrapped, moves the property, and logs the new archive for both units: the old owner's floors then
refuse it as another unit's property, the new owner's may fill it.
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlalchemy import Connection, insert

from domain.archive import CylinderStatus
from platform_server import schema as t
from platform_server.archives import archive_json, load_archive, save_archive
from platform_server.changes import append_change
from platform_server.errors import ApiError
from platform_server.fields import Fields

__all__ = ["transfer_in"]


def transfer_in(conn: Connection, unit: str, body: object, at: str) -> dict[str, Any]:
    f = Fields(body)
    f.only(("cylinder", "from_unit", "document"))
    code = f.text("cylinder", max_len=64)
    from_unit = f.text("from_unit", max_len=32)
    document = f.text("document", required=False, max_len=128) or ""
    assert code is not None
    assert from_unit is not None
    archive = load_archive(conn, code)
    if archive is None:
        raise ApiError(404, "cylinder.unknown", f"no archive for {code!r}", field="cylinder")
    if archive.owner == unit:
        raise ApiError(409, "transfer.already_owner", f"{code} is the unit's own property already")
    if archive.owner != from_unit:
        raise ApiError(
            409, "transfer.wrong_owner", f"{code} is not the property of {from_unit}", field="from_unit"
        )
    if archive.status in (CylinderStatus.SCRAPPED, CylinderStatus.CANCELLED):
        raise ApiError(409, "cylinder.scrapped", f"{code} is {archive.status.value}: it cannot change hands")
    conn.execute(
        insert(t.transfer).values(
            cylinder_code=code, from_unit=from_unit, to_unit=unit, document=document, at=at
        )
    )
    moved = attrs.evolve(archive, owner=unit)
    seqs = [save_archive(conn, moved, "transferred_in", at, new=False)]
    seqs.append(append_change(conn, from_unit, "archive", "transferred_out", archive_json(moved), at))
    return {"archive": archive_json(moved), "previous_owner": from_unit, "changes": seqs}
