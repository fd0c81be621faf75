"""Storing the floor's records, as plain functions on a SQLAlchemy connection.

They run off the trio loop (in the writer's thread, or in a CLI command), inside a transaction the
caller opens, so that a record and its outbox row commit together or not at all. This module is
also the one place to import storage functions from: it re-exports the registry, fill chain and
outbox functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert, select

from domain.records import (
    AlarmRecord,
    AuditRecord,
    CheckRecord,
    FillOpened,
    FillRecord,
    HoldRecord,
    LearningRecord,
    Record,
    RefusalRecord,
)
from domain.times import utc_now
from supervisor.storage import schema as t
from supervisor.storage.fills import ChainAppender, FillLink, RecordChainAppender, append_fill
from supervisor.storage.holds import load_holds, record_hold
from supervisor.storage.learning import load_learning, set_learning
from supervisor.storage.outbox import (
    OutboxItem,
    dead_letter,
    dead_letters,
    enqueue,
    mark_failed,
    mark_sent,
    outbox_backlog,
    outbox_payload,
    pending_outbox,
)
from supervisor.storage.record_rows import record_row
from supervisor.storage.registry import (
    get_cursor,
    get_unit,
    import_archives,
    load_archive,
    load_archives,
    load_operators,
    record_inspection,
    set_cursor,
    set_unit,
    upsert_archives,
    upsert_operators,
)

__all__ = [
    "ChainAppender",
    "FillLink",
    "OutboxItem",
    "RecordChainAppender",
    "already_stored",
    "append_fill",
    "dead_letter",
    "dead_letters",
    "get_cursor",
    "get_unit",
    "import_archives",
    "load_archive",
    "load_archives",
    "load_holds",
    "load_learning",
    "load_operators",
    "mark_failed",
    "mark_sent",
    "outbox_backlog",
    "pending_outbox",
    "record_fill_opened",
    "record_inspection",
    "set_cursor",
    "set_unit",
    "store",
    "store_all",
    "upsert_archives",
    "upsert_operators",
    "utc_now",
]


def _check_row(record: CheckRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id, "cylinder_code": record.cylinder, "phase": record.phase,
        "result": record.result, "items": dict(record.items), "checker": record.checker,
        "station": record.station, "at": record.at, "fill_record_id": record.fill_record_id,
    }  # fmt: skip


def _refusal_row(record: RefusalRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id, "station": record.station, "cylinder_code": record.cylinder,
        "raw": record.raw, "reasons": list(record.reasons), "operator_id": record.operator,
        "at": record.at,
    }  # fmt: skip


def _alarm_row(record: AlarmRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id, "alarm_id": record.alarm_id, "kind": record.kind,
        "severity": record.severity, "station": record.station, "message": record.message,
        "event": record.event, "at": record.at,
    }  # fmt: skip


# The records the platform takes besides fills: their table, their kind in the outbox, their row.
_OUTBOUND: dict[type, tuple[Table, str, Callable[[Any], dict[str, Any]]]] = {
    CheckRecord: (t.check_record, "check", _check_row),
    RefusalRecord: (t.refusal, "refusal", _refusal_row),
    AlarmRecord: (t.alarm, "alarm", _alarm_row),
}


# A stored record that joins the record chain: its table's name and its row as stored.
_Chained = tuple[str, dict[str, Any]]


def _record_outbound(conn: Connection, record: CheckRecord | RefusalRecord | AlarmRecord) -> _Chained:
    table, kind, build = _OUTBOUND[type(record)]
    row = build(record)
    conn.execute(insert(table), [row])
    enqueue(conn, record.record_id, kind, row)
    return table.name, row


def already_stored(conn: Connection, record: Record) -> bool:
    """Whether this very check, refusal or alarm is stored already (its outbox row holds the same
    content under its id): a record offered again after a lost acknowledgement or a crashed sink,
    where another record under a used id is an error."""
    if not isinstance(record, CheckRecord | RefusalRecord | AlarmRecord):
        return False
    _, kind, build = _OUTBOUND[type(record)]
    o = t.outbox.c
    query = select(o.payload).where(o.record_id == record.record_id, o.kind == kind)
    stored = conn.execute(query).scalar_one_or_none()
    return stored is not None and stored == outbox_payload(build(record))


def record_fill_opened(conn: Connection, record: FillOpened) -> None:
    """The marker of a fill about to open its valve (see `FillOpened`); local only."""
    row = record_row(record)
    # Offered again after a cancelled write that did commit (records_sink.py): the same marker;
    # or offered again with its fill, whose record deleted it: the fill is over, no marker again.
    marker, fill = t.fill_open.c.record_id, t.fill.c.record_id
    for column in (marker, fill):
        if conn.execute(select(column).where(column == record.record_id)).first() is not None:
            return
    conn.execute(insert(t.fill_open), [row])


def _record_audit(conn: Connection, record: AuditRecord) -> _Chained:
    """A console command, refused ones included; kept locally (not sent to the platform). Its row
    number, given by the insert, is what names it in the record chain."""
    row: dict[str, Any] = {
        "at": record.at, "who": record.who, "role": record.role, "command": record.command,
        "target": record.target, "result": record.result, "detail": record.detail,
    }  # fmt: skip
    key = conn.execute(insert(t.console_audit).values(row)).inserted_primary_key
    assert key is not None  # (an insert of one row)
    row["id"] = key[0]
    return t.console_audit.name, row


# The records that join the record chain, each stored by a function that says what it stored.
_LINKED: dict[type, Callable[[Connection, Any], _Chained]] = {
    CheckRecord: _record_outbound,
    RefusalRecord: _record_outbound,
    AlarmRecord: _record_outbound,
    AuditRecord: _record_audit,
}
_STORE: dict[type, Callable[[Connection, Any], object]] = {
    FillOpened: record_fill_opened,
    LearningRecord: lambda conn, r: set_learning(conn, r.station, r.learning),
    HoldRecord: record_hold,
}


def store(conn: Connection, record: Record) -> FillLink | None:
    """Store any record (with its outbox row where the platform wants it) in the caller's
    transaction; a fill's result is its place in the chain."""
    return store_all(conn, [record])[0]


def store_all(conn: Connection, records: Sequence[Record]) -> list[FillLink | None]:
    """Store records in order in the caller's transaction: fills join the fill chain; checks,
    refusals, alarms and console audit rows the record chain, in the order given (one head read
    and one head write per chain for all of them)."""
    # Both heads are locked in this order whatever the records' order, so that two writers sharing
    # a PostgreSQL database queue on the fill chain's head and never deadlock on the two.
    fills = ChainAppender(conn) if any(isinstance(r, FillRecord) for r in records) else None
    links = RecordChainAppender(conn) if any(type(r) in _LINKED for r in records) else None
    results: list[FillLink | None] = []
    for record in records:
        if isinstance(record, FillRecord):
            assert fills is not None
            results.append(fills.append(record))
            continue
        if type(record) in _LINKED:
            assert links is not None
            links.append(*_LINKED[type(record)](conn, record))
        elif type(record) in _STORE:
            _STORE[type(record)](conn, record)
        else:
            raise TypeError(f"not a record: {record!r}")
        results.append(None)
    for chain in (fills, links):
        if chain is not None:
            chain.close()
    return results
