"""Records uploaded by the units: checked per kind, stored once per record id, answered per record.

A batch is answered record by record (docs/platform-api.md, "POST /v1/records"):
- `stored`: new, now kept;
- `duplicate`: this record id was stored before with the same kind and payload (a resend after a
  lost reply): nothing changes;
- `rejected` with a `reason` code (and the `field` at fault): the record is kept nowhere; the
  floor dead-letters it. `record.conflict`: the id is taken by a different record.
  `record.not_owner`: a fill or check of another unit's cylinder (one the unit never owned); a
  refusal of one is kept but not linked to that cylinder, so no unit writes into another's trace.
A record is one row, so it is stored whole or not at all; the batch commits in one transaction.

Payload fields are those of the floor's outbox (`supervisor/storage/repository.py`; a fill's are
the stored fields of `domain.records.FillRecord`, checked by their declared kinds). Unknown payload
fields are kept as sent: a newer floor's extra fields must not make an older platform refuse its
records. A fill's own hashes are checked on arrival (domain/chain.py); its place in the unit's
chain is checked by verify-chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from attrs import frozen
from sqlalchemy import Connection, insert, select

from domain.chain import canonical_content, content_hash, link_hash
from domain.records import FillRecord
from domain.stored import FieldKind, StoredField, stored_fields
from platform_server import schema as t
from platform_server.errors import Invalid
from platform_server.fields import Fields, check_json, path

__all__ = ["KINDS", "MAX_BATCH", "Checked", "RecordResult", "check_record", "read_batch", "store_batch"]

KINDS = ("fill", "check", "refusal", "alarm")
MAX_BATCH = 1000
_RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# A fill's payload: the stored fields of the floor's record (their names, kinds and lengths) and its
# place in the chain (`seq` and the link's columns).
_FILL_FIELDS = stored_fields(FillRecord)


@frozen
class RecordResult:
    record_id: str
    status: str  # stored | duplicate | rejected
    reason: str | None = None
    field: str | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record_id": self.record_id, "status": self.status}
        for name in ("reason", "field", "detail"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@frozen
class Checked:
    """A record that passed its checks, with the columns copied out of its payload."""

    record_id: str
    kind: str
    payload: Mapping[str, Any]
    digest: str
    cylinder_code: str | None
    station: str | None
    at: str
    seq: int | None
    where: str  # the record's place in its batch (`records[3]`), for an answer naming a field


class _Refused(Exception):
    def __init__(self, reason: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


def _stored_field(f: Fields, field: StoredField) -> object:
    """One field of a record as the floor stores it: read and checked by its kind (domain/stored.py)."""
    name, required = field.column, not field.nullable
    match field.kind:
        case FieldKind.TEXT if field.choices is not None:
            return f.choice(name, field.choices, required=required)
        case FieldKind.TEXT:
            assert field.length is not None
            return f.text(name, required=required, max_len=field.length, allow_empty=field.may_be_empty)
        case FieldKind.TIME:
            return f.time(name, required=required)
        case FieldKind.MASS:
            return f.decimal(name, required=required)
        case FieldKind.COUNT:
            return f.integer(name, required=required)
        case FieldKind.NAMES:
            return f.strings(name, required=required)


def _fill(f: Fields, record_id: str) -> tuple[str | None, str | None, str, int | None]:
    seq = f.integer("seq", minimum=1)
    fields: dict[str, object] = {}
    for field in _FILL_FIELDS:
        fields[field.column] = _stored_field(f, field)
        if field.column == "record_id" and fields["record_id"] != record_id:
            raise _Refused(
                "record.id_mismatch", f.name("record_id"), "the payload's record_id is not the record's"
            )
    content = f.text("content", max_len=16_384)
    digest, prev, link = f.hex64("content_hash"), f.hex64("prev_hash"), f.hex64("hash")
    if canonical_content(f.obj) != content:
        raise _Refused(
            "fill.content_mismatch", f.name("content"), "the fill's fields differ from its content"
        )
    if content_hash(content or "") != digest:
        raise _Refused("fill.hash_mismatch", f.name("content_hash"), "content_hash is not sha256(content)")
    if link_hash(prev, content or "") != link:
        raise _Refused("fill.hash_mismatch", f.name("hash"), "hash is not sha256(prev_hash ‖ content)")
    cylinder, station, ended = fields["cylinder_code"], fields["station"], fields["ended_at"]
    assert isinstance(cylinder, str | None)
    assert isinstance(station, str)
    assert isinstance(ended, str)
    return cylinder or None, station, ended, seq


def _check(f: Fields) -> tuple[str | None, str | None, str, int | None]:
    cylinder = f.text("cylinder_code", max_len=64)
    f.choice("phase", ("pre", "post"))
    f.choice("result", ("pass", "fail"))
    items = f.mapping("items")
    for key, value in (items or {}).items():
        if not isinstance(value, str):
            raise Invalid(path(f.name("items"), key), "must be a string")
    f.text("checker", max_len=64)
    station = f.text("station", required=False, max_len=32)
    at = f.time("at")
    f.text("fill_record_id", required=False, max_len=64)
    assert at is not None
    return cylinder, station, at, None


def _refusal(f: Fields) -> tuple[str | None, str | None, str, int | None]:
    station = f.text("station", max_len=32)
    cylinder = f.text("cylinder_code", required=False, max_len=64)
    raw = f.obj.get("raw", "")
    if not isinstance(raw, str) or len(raw) > 2048:
        raise Invalid(f.name("raw"), "must be a string of at most 2048 characters")
    f.strings("reasons")
    f.text("operator_id", required=False, max_len=64)
    at = f.time("at")
    assert at is not None
    return cylinder, station, at, None


def _alarm(f: Fields) -> tuple[str | None, str | None, str, int | None]:
    f.text("alarm_id", max_len=64)
    f.text("kind", max_len=64)
    f.choice("severity", ("critical", "high", "medium", "low"))
    message = f.obj.get("message")
    if not isinstance(message, str) or len(message) > 4096:
        raise Invalid(
            f.name("message"), "must be a string of at most 4096 characters", missing=message is None
        )
    f.choice("event", ("raised", "cleared", "acknowledged", "shelved"))
    station = f.text("station", required=False, max_len=32)
    at = f.time("at")
    assert at is not None
    return None, station, at, None


_CHECKS: dict[str, Callable[[Fields], tuple[str | None, str | None, str, int | None]]] = {
    "check": _check,
    "refusal": _refusal,
    "alarm": _alarm,
}


def digest_of(kind: str, payload: Mapping[str, Any]) -> str:
    text = json.dumps(
        {"kind": kind, "payload": payload}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_batch(body: object) -> list[tuple[str, Fields]]:
    """The batch's records as (record id, fields); a malformed envelope is a 422 (`Invalid`)."""
    top = Fields(body)
    top.only(("records",))
    out = []
    for i, item in enumerate(top.objects("records", max_items=MAX_BATCH)):
        f = Fields(item, f"records[{i}]")
        f.only(("record_id", "kind", "payload"))
        record_id = f.text("record_id", max_len=64)
        assert record_id is not None
        if not _RECORD_ID.fullmatch(record_id):
            raise Invalid(
                f.name("record_id"), "1-64 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)"
            )
        out.append((record_id, f))
    return out


def check_record(record_id: str, f: Fields) -> Checked | RecordResult:
    """A record ready to store, or its rejection naming the reason and the field."""
    try:
        kind = f.text("kind", max_len=16)
        if kind not in KINDS:
            detail = f"kind must be one of {', '.join(KINDS)}"
            return RecordResult(record_id, "rejected", "record.bad_kind", f.name("kind"), detail)
        payload = Fields(f.mapping("payload"), f.name("payload"))
        check_json(payload.obj, payload.prefix)
        if kind == "fill":
            cylinder, station, at, seq = _fill(payload, record_id)
        else:
            cylinder, station, at, seq = _CHECKS[kind](payload)
    except _Refused as exc:
        return RecordResult(record_id, "rejected", exc.reason, exc.field, exc.detail)
    except Invalid as exc:
        reason = "record.missing_field" if exc.missing else "record.bad_field"
        return RecordResult(record_id, "rejected", reason, exc.field, exc.problem)
    data = dict(payload.obj)
    return Checked(record_id, kind, data, digest_of(kind, data), cylinder, station, at, seq, f.prefix)


def _foreign_cylinders(conn: Connection, unit: str, codes: set[str | None]) -> set[str]:
    """The codes that name another unit's cylinder which this unit never owned (a cylinder it
    transferred out may still have its fills from before to upload)."""
    wanted = [c for c in codes if c is not None]
    foreign: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        q = select(t.archive.c.code).where(t.archive.c.code.in_(chunk), t.archive.c.owner != unit)
        foreign.update(r[0] for r in conn.execute(q))
    if foreign:
        q = select(t.transfer.c.cylinder_code).where(
            t.transfer.c.cylinder_code.in_(sorted(foreign)), t.transfer.c.from_unit == unit
        )
        foreign.difference_update(r[0] for r in conn.execute(q))
    return foreign


def store_batch(
    conn: Connection, unit: str, checked: Sequence[Checked | RecordResult], received_at: str
) -> list[RecordResult]:
    """Store the checked records of `unit` that are new; answer each in order."""
    ids = [c.record_id for c in checked if isinstance(c, Checked)]
    known: dict[str, tuple[str, str, str]] = {}
    for start in range(0, len(ids), 500):
        q = select(t.record.c.record_id, t.record.c.unit, t.record.c.kind, t.record.c.digest).where(
            t.record.c.record_id.in_(ids[start : start + 500])
        )
        known.update({r[0]: (r[1], r[2], r[3]) for r in conn.execute(q)})
    foreign = _foreign_cylinders(conn, unit, {c.cylinder_code for c in checked if isinstance(c, Checked)})
    rows: list[dict[str, Any]] = []
    results: list[RecordResult] = []
    for c in checked:
        if isinstance(c, RecordResult):
            results.append(c)
            continue
        if c.cylinder_code in foreign:
            if c.kind != "refusal":
                detail = f"{c.cylinder_code} is another unit's property: record only your own cylinders"
                field = path(path(c.where, "payload"), "cylinder_code")
                results.append(RecordResult(c.record_id, "rejected", "record.not_owner", field, detail))
                continue
            # A floor refusing another unit's cylinder is right to say so, but its record must not
            # enter that cylinder's trace: it is kept, linked to no cylinder.
            c = attrs.evolve(c, cylinder_code=None)
        mine = (unit, c.kind, c.digest)
        seen = known.get(c.record_id)
        if seen is None:
            known[c.record_id] = mine
            rows.append({
                "record_id": c.record_id, "unit": unit, "kind": c.kind, "payload": c.payload,
                "digest": c.digest, "cylinder_code": c.cylinder_code, "station": c.station, "at": c.at,
                "seq": c.seq, "received_at": received_at,
            })  # fmt: skip
            results.append(RecordResult(c.record_id, "stored"))
        elif seen == mine:
            results.append(RecordResult(c.record_id, "duplicate"))
        else:
            detail = "this record id was stored before with other content"
            field = path(c.where, "record_id")
            results.append(RecordResult(c.record_id, "rejected", "record.conflict", field, detail))
    if rows:
        conn.execute(insert(t.record), rows)
    return results
