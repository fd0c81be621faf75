"""Property transfer (产权转移) of a cylinder between units, with the owner's consent.

A cylinder changes hands only when its owner on record agrees or the regulator decides:
- the owner asks (`from_unit` its own, `to_unit` the receiver): the property moves at once;
- the receiving unit asks (`from_unit` the owner): the request waits, `pending`, until the owner
  accepts it (`accept_transfer`); until then nothing changes;
- the regulator names both units: the property moves at once.
A move keeps the transfer (with the previous owner) and logs the new archive for both units: the
old owner's floors then refuse it as another unit's property, the new owner's may fill it.
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlalchemy import Connection, insert, select, update

from domain.archive import CylinderStatus
from platform_server import schema as t
from platform_server.archives import archive_json, load_archive, save_archive
from platform_server.changes import append_change
from platform_server.errors import ApiError, Invalid
from platform_server.fields import Fields
from platform_server.parties import Party

__all__ = ["accept_transfer", "pending_transfers", "request_transfer"]

PENDING, ACCEPTED = "pending", "accepted"


def request_transfer(conn: Connection, party: Party, body: object, at: str) -> dict[str, Any]:
    """A unit's or the regulator's transfer: moved now (owner, regulator) or pending (receiver)."""
    f = Fields(body)
    f.only(("cylinder", "from_unit", "to_unit", "document"))
    code = f.text("cylinder", max_len=64)
    from_unit = f.text("from_unit", required=party.kind == "regulator", max_len=32)
    to_unit = f.text("to_unit", required=party.kind == "regulator", max_len=32)
    document = f.text("document", required=False, max_len=128) or ""
    assert code is not None
    if party.kind == "unit":
        # A unit is one side: the owner giving (to_unit) or the receiver asking (from_unit).
        if to_unit is None and from_unit is None:
            raise Invalid("to_unit", "name to_unit (you give) or from_unit (you receive)", missing=True)
        to_unit = to_unit or party.id
        from_unit = from_unit or party.id
        if party.id not in (to_unit, from_unit):
            raise ApiError(403, "transfer.not_a_party", "a unit transfers its own cylinders or into itself")
    assert from_unit is not None
    assert to_unit is not None
    _check_movable(conn, code, from_unit, to_unit)
    if party.kind == "unit" and party.id != from_unit:
        values = {"from_unit": from_unit, "to_unit": to_unit, "document": document, "state": PENDING}
        inserted = conn.execute(insert(t.transfer_request).values(cylinder_code=code, at=at, **values))
        assert inserted.inserted_primary_key is not None
        request_id = inserted.inserted_primary_key[0]
        return {"status": PENDING, "transfer_id": request_id, "cylinder": code, "owner": from_unit}
    return _move(conn, code, from_unit, to_unit, document, at)


def accept_transfer(conn: Connection, party: Party, request_id: int, at: str) -> dict[str, Any]:
    """The owner accepts a receiving unit's pending request: the property moves now."""
    row = conn.execute(select(t.transfer_request).where(t.transfer_request.c.id == request_id)).first()
    if row is None or row.from_unit != party.id:
        raise ApiError(404, "transfer.unknown", f"no transfer request {request_id} to this unit")
    if row.state != PENDING:
        raise ApiError(409, "transfer.not_pending", f"transfer request {request_id} is {row.state}")
    _check_movable(conn, row.cylinder_code, row.from_unit, row.to_unit)
    conn.execute(
        update(t.transfer_request).where(t.transfer_request.c.id == request_id).values(state=ACCEPTED)
    )
    return _move(conn, row.cylinder_code, row.from_unit, row.to_unit, row.document, at)


def pending_transfers(conn: Connection, unit: str) -> list[dict[str, Any]]:
    """The requests waiting for this unit's acceptance (it owns the cylinders)."""
    r = t.transfer_request.c
    rows = conn.execute(
        select(r.id, r.cylinder_code, r.to_unit, r.document, r.at)
        .where(r.from_unit == unit, r.state == PENDING)
        .order_by(r.id)
    )
    return [
        {"transfer_id": i, "cylinder": c, "to_unit": to, "document": d, "at": a} for i, c, to, d, a in rows
    ]


def _check_movable(conn: Connection, code: str, from_unit: str, to_unit: str) -> None:
    archive = load_archive(conn, code)
    if archive is None:
        raise ApiError(404, "cylinder.unknown", f"no archive for {code!r}", field="cylinder")
    if archive.owner == to_unit:
        raise ApiError(409, "transfer.already_owner", f"{code} is the property of {to_unit} already")
    if archive.owner != from_unit:
        raise ApiError(
            409, "transfer.wrong_owner", f"{code} is not the property of {from_unit}", field="from_unit"
        )
    if archive.status in (CylinderStatus.SCRAPPED, CylinderStatus.CANCELLED):
        raise ApiError(409, "cylinder.scrapped", f"{code} is {archive.status.value}: it cannot change hands")
    if conn.execute(select(t.unit.c.code).where(t.unit.c.code == to_unit)).first() is None:
        raise ApiError(404, "unit.unknown", f"no unit {to_unit!r}", field="to_unit")


def _move(
    conn: Connection, code: str, from_unit: str, to_unit: str, document: str, at: str
) -> dict[str, Any]:
    archive = load_archive(conn, code)
    assert archive is not None
    conn.execute(
        insert(t.transfer).values(
            cylinder_code=code, from_unit=from_unit, to_unit=to_unit, document=document, at=at
        )
    )
    moved = attrs.evolve(archive, owner=to_unit)
    seqs = [save_archive(conn, moved, "transferred_in", at, new=False)]
    seqs.append(append_change(conn, from_unit, "archive", "transferred_out", archive_json(moved), at))
    return {
        "status": "transferred",
        "archive": archive_json(moved),
        "previous_owner": from_unit,
        "changes": seqs,
    }
