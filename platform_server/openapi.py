"""The OpenAPI 3.1 document of the platform API, served at `/openapi.json`.

Written by hand, next to docs/platform-api.md (which explains what the schema cannot: the
signature, idempotency, the change log). A test checks that every route of the app is here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_SIGNED: list[dict[str, list[str]]] = [{"ff1": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_S = {"type": "string"}
_SN = {"type": ["string", "null"]}
_DEC = {
    "type": ["string", "null"],
    "pattern": r"^-?\d{1,12}(\.\d{1,6})?$",
    "description": "decimal string, kg",
}
_DATE = {"type": ["string", "null"], "format": "date"}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"}
_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}


_UNSIGNED = frozenset({401, 411, 413})


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        401: "not authenticated: auth.missing, auth.malformed, auth.stale, "
        "auth.bad_signature (also for an unknown party), auth.replayed",
        403: "auth.forbidden: this party kind may not call this endpoint",
        404: "not found (cylinder.unknown, unit.unknown, station.unknown, photo.unknown, transfer.unknown)",
        409: "conflict with the registry (cylinder.scrapped, transfer.wrong_owner, "
        "transfer.already_owner, transfer.not_pending)",
        411: "request.length_required: a body must be sent with its Content-Length (not chunked)",
        413: "request.too_large",
        415: "photo.bad_type, request.bad_type (a JSON body needs Content-Type: application/json)",
        422: "request.invalid: a bad body or query, `field` names it",
    }
    return {
        str(s): {
            "description": text[s],
            "content": {"application/json": {"schema": _ref("Error")}},
            # (answered before the request's signature is checked: never signed)
            **({} if s in _UNSIGNED else {"headers": _REPLY_SIGNED}),
        }
        for s in statuses
    }


_REPLY_SIGNED = {
    "X-Fillfloor-Reply-Signature": {
        "description": "HMAC-SHA256 with the party's key over FF1-HMAC-SHA256-REPLY, status, the request's "
        "method, target and nonce, and sha256(body) (docs/platform-api.md, 'Signed replies')",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }
}


def _op(
    summary: str,
    description: str,
    *,
    body: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (401, 403, 422),
    party: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"{description}\n\nCalled by: {party}.",
        "security": _SIGNED,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": response or {"type": "object"}}},
                "headers": _REPLY_SIGNED,
            },
            # (a body comes with its declared length, within the limit)
            **_errors(*sorted(set(errors) | ({411, 413} if body is not None else set()))),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict[str, Any], description: str, *, where: str = "query") -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


def _schemas() -> dict[str, Any]:
    archive_props = {
        "code": _S,
        "owner": _S,
        "model": _S,
        "tare_kg": _DEC,
        "manufactured": _DATE,
        "last_inspection": _DATE,
        "next_inspection": _DATE,
        "scrap_date": _DATE,
        "status": {"enum": ["in_service", "scrapped", "blocked", "cancelled"]},
        "manufacturer": _SN,
        "serial": _SN,
        "property_no": _SN,
        "volume_l": _DEC,
        "inspection_unit": _SN,
    }
    return {
        "Error": _obj(["error", "detail"], error=_S, detail=_S, field=_S),
        "Record": _obj(
            ["record_id", "kind", "payload"],
            record_id={"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"},
            kind={"enum": ["fill", "check", "refusal", "alarm"]},
            payload={
                "type": "object",
                "description": "the floor's outbox payload of this kind (docs/platform-api.md)",
            },
        ),
        "RecordResult": _obj(
            ["record_id", "status"],
            record_id=_S,
            status={"enum": ["stored", "duplicate", "rejected"]},
            reason=_S,
            field=_S,
            detail=_S,
        ),
        "ArchiveIn": {
            **_obj(["code", "model", "tare_kg"], **archive_props),
            "properties": {
                **archive_props,
                "photos": {"type": "array", "items": _HEX},
                "defects": {
                    "type": "array",
                    "items": {"enum": ["modified", "refurbished", "damaged", "corroded", "hazard"]},
                },
            },
        },
        "Archive": _obj(
            [*archive_props, "blocked", "photos"],
            **archive_props,
            blocked=_BOOL,
            photos={"type": "array", "items": _HEX},
        ),
        "Change": _obj(
            ["seq", "type", "cause", "unit", "at", "data"],
            seq=_INT,
            type={"enum": ["archive", "inspection", "operator", "station", "unit"]},
            cause=_S,
            unit=_S,
            at=_TIME,
            data={"type": "object"},
        ),
        "ItemResult": _obj(
            ["status"], code=_S, id=_S, status=_S, reasons={"type": "array", "items": _S}, change=_INT
        ),
    }


def _paths() -> dict[str, Any]:
    results = _obj(["results"], results={"type": "array", "items": _ref("ItemResult")})
    return {
        "/v1/me": {
            "get": _op(
                "Who am I",
                "The calling party and the platform's clock (check keys and skew).",
                party="any party",
                errors=(401,),
            )
        },
        "/v1/records": {
            "post": _op(
                "Upload records",
                "A batch of at most 1000 records, idempotent by record_id, answered per record in order: "
                "stored, duplicate (same id, same kind and payload), rejected with a reason "
                "(record.conflict, record.bad_kind, record.missing_field, record.bad_field, "
                "record.id_mismatch, fill.content_mismatch, fill.hash_mismatch) and the field at fault.",
                body=_obj(["records"], records={"type": "array", "maxItems": 1000, "items": _ref("Record")}),
                response=_obj(["results"], results={"type": "array", "items": _ref("RecordResult")}),
                errors=(401, 403, 413, 422),
                party="unit",
            )
        },
        "/v1/archives": {
            "post": _op(
                "Register cylinder archives",
                "Each archive answered registered, updated, unchanged or refused with every reason that "
                "applies (不予赋码与录入): cylinder.* eligibility codes, registration.* codes, "
                "archive.bad_field, archive.out_of_range.",
                body=_obj(
                    ["archives"], archives={"type": "array", "maxItems": 1000, "items": _ref("ArchiveIn")}
                ),
                response=results,
                party="unit",
            )
        },
        "/v1/photos/{sha256}": {
            "put": {
                **_op(
                    "Upload a photo",
                    "Stored by content hash; the path's sha256 must be the body's. 201 new, 200 already "
                    "stored.",
                    party="unit",
                    errors=(401, 403, 411, 413, 415, 422),
                    params=[_q("sha256", _HEX, "sha256 of the body", where="path")],
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        t: {"schema": {"type": "string", "format": "binary"}}
                        for t in ("image/jpeg", "image/png", "image/webp")
                    },
                },
            },
            "get": _op(
                "Download a photo",
                "The photo's bytes.",
                party="any party",
                errors=(401, 404),
                params=[_q("sha256", _HEX, "sha256 of the photo", where="path")],
            ),
        },
        "/v1/stations": {
            "post": _op(
                "Register stations",
                "The unit's filling stations (scales), by id: what the regulator can disable one by one.",
                body=_obj(["stations"], stations={"type": "array", "items": _obj(["id"], id=_S, name=_S)}),
                response=results,
                party="unit",
            )
        },
        "/v1/operators": {
            "post": _op(
                "Register operators",
                "Operators (充装工) with their certificates, by badge id; rejected ones name the field.",
                body=_obj(
                    ["operators"],
                    operators={
                        "type": "array",
                        "items": _obj(
                            ["id", "name", "certificate_expires"],
                            id=_S,
                            name=_S,
                            certificate_expires=_DATE,
                            certificate_no=_S,
                        ),
                    },
                ),
                response=results,
                party="unit",
            )
        },
        "/v1/transfers": {
            "post": _op(
                "Transfer a cylinder's property (产权转移)",
                "The owner (`to_unit`) or the regulator (`from_unit` and `to_unit`): the property moves "
                "now (`status` transferred). The receiving unit (`from_unit` the owner): a pending "
                "request (202, `status` pending, `transfer_id`) the owner accepts; nothing moves until then.",
                body=_obj(["cylinder"], cylinder=_S, from_unit=_S, to_unit=_S, document=_S),
                response=_obj(
                    ["status"],
                    status={"enum": ["transferred", "pending"]},
                    transfer_id=_INT,
                    archive=_ref("Archive"),
                    previous_owner=_S,
                    changes={"type": "array", "items": _INT},
                ),
                errors=(401, 403, 404, 409, 422),
                party="unit, regulator",
            ),
            "get": _op(
                "Transfer requests waiting for the unit's acceptance",
                "Receiving units' requests for the calling unit's cylinders, still pending.",
                errors=(401, 403),
                party="unit",
            ),
        },
        "/v1/transfers/{transfer_id}/accept": {
            "post": _op(
                "Accept a pending transfer request",
                "The owner accepts: the property moves to the requesting unit (as a transfer by the owner).",
                params=[_q("transfer_id", _INT, "the request's transfer_id", where="path")],
                errors=(401, 403, 404, 409),
                party="unit (the owner)",
            )
        },
        "/v1/registry/changes": {
            "get": _op(
                "Registry changes after a cursor",
                "Changes in order after `cursor` (a unit sees its own; others all, or `unit`'s). `cursor` "
                "in the answer is the next one to ask with; `more` says whether to ask again at once; "
                "`latest` is the newest change the caller may see.",
                params=[
                    _q(
                        "cursor",
                        {"type": "integer", "minimum": 0, "default": 0},
                        "the last change number applied",
                    ),
                    _q(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500},
                        "at most this many",
                    ),
                    _q("unit", _S, "only this unit's changes (agencies and the regulator)"),
                ],
                response=_obj(
                    ["changes", "cursor", "more", "latest"],
                    changes={"type": "array", "items": _ref("Change")},
                    cursor=_INT,
                    more=_BOOL,
                    latest=_INT,
                ),
                party="any party",
            )
        },
        "/v1/chain": {
            "get": _op(
                "The calling unit's fill chain as the platform holds it",
                "Its uploaded fills as [seq, hash] pairs after `after`, in order, a page at a time: what "
                "`fillfloor verify-chain --against-platform` compares the floor's own chain with.",
                params=[
                    _q("after", {"type": "integer", "minimum": 0, "default": 0}, "the last seq already had"),
                    _q(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 5000, "default": 5000},
                        "at most this many",
                    ),
                ],
                response=_obj(["links", "more"], links={"type": "array"}, more=_BOOL),
                party="unit",
            )
        },
        "/v1/inspections": {
            "post": _op(
                "Post a periodic-inspection result",
                "pass: the archive's last inspection and next date move (next: as given, else + the "
                "interval); fail: the cylinder is scrapped. Both reach the owner's floors as changes.",
                body=_obj(
                    ["cylinder", "result"],
                    cylinder=_S,
                    result={"enum": ["pass", "fail"]},
                    inspected_on=_DATE,
                    next_inspection=_DATE,
                    agency=_S,
                    report_no=_S,
                ),
                response=_obj(
                    ["inspection", "archive", "changes"],
                    inspection=_INT,
                    archive=_ref("Archive"),
                    changes={"type": "array", "items": _INT},
                ),
                errors=(401, 403, 404, 409, 422),
                party="agency",
            )
        },
        "/v1/regulator/actions": {
            "post": _op(
                "Disable/enable a unit or station, block/unblock a cylinder",
                "disable/enable take `unit` (and `station` for one station); block/unblock take `cylinder`. "
                "An action already in force changes nothing (`changed`: false).",
                body=_obj(
                    ["action"],
                    action={"enum": ["disable", "enable", "block", "unblock"]},
                    unit=_S,
                    station=_S,
                    cylinder=_S,
                    reason=_S,
                ),
                response=_obj(
                    ["action", "target", "changed", "change"],
                    action=_S,
                    target=_S,
                    changed=_BOOL,
                    change={"type": ["integer", "null"]},
                ),
                errors=(401, 403, 404, 422),
                party="regulator",
            )
        },
        "/v1/regulator/progress": {
            "get": _op(
                "Per-unit progress",
                "Labels registered, records by kind, fills per day, fill outcomes, refusals by reason, "
                "over/underfills, sync lag; every unit, or `unit`'s.",
                params=[_q("unit", _S, "one unit")],
                errors=(401, 403, 404),
                party="regulator",
            )
        },
        "/v1/regulator/trace/{cylinder}": {
            "get": _op(
                "Trace a cylinder across units",
                "Its archive, transfers, inspections and every uploaded record naming it, in time order.",
                params=[_q("cylinder", _S, "the cylinder code", where="path")],
                errors=(401, 403, 404),
                party="regulator",
            )
        },
        "/v1/regulator/verify-chain/{unit}": {
            "get": _op(
                "Verify a unit's fill hash chain",
                "Re-verifies the chain from the uploaded fills: the first missing, altered, inserted or "
                "forked fill.",
                params=[_q("unit", _S, "the unit code", where="path")],
                response=_obj(
                    ["unit", "ok", "count", "first_bad_seq", "first_bad_record_id", "problem"],
                    unit=_S,
                    ok=_BOOL,
                    count=_INT,
                    first_bad_seq={"type": ["integer", "null"]},
                    first_bad_record_id=_SN,
                    problem=_S,
                ),
                errors=(401, 403, 404),
                party="regulator",
            )
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fillfloor reference city platform",
            "version": "1",
            "description": "The API between filling floors, inspection agencies, the regulator and the city "
            "platform. Every request is signed, and so is every reply to a request whose signature "
            "checked out (docs/platform-api.md, 'Signed replies').",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "ff1": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Fillfloor-Signature",
                    "description": "HMAC-SHA256 with the party's key over FF1-HMAC-SHA256, method, target, "
                    "sha256(body), timestamp and nonce, with X-Fillfloor-Party, X-Fillfloor-Timestamp and "
                    "X-Fillfloor-Nonce (docs/platform-api.md).",
                }
            },
        },
    }
