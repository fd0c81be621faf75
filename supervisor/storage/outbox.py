"""The transactional outbox: records queued for the city platform in the same transaction that
stores them, read and marked by the platform sync.

Life of a row: pending → sent (the platform accepted it) or, after a refusal the platform will
never change its mind on, dead-lettered with the reason (shown in the console). A failed attempt
counts up `attempts` and sets `next_try_at`; the sync chooses the backoff. Times are ISO 8601 UTC
text as made by `domain.times` (which sorts as text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, func, insert, or_, select, update

from domain.times import utc_now
from supervisor.storage import schema as t

__all__ = [
    "OutboxItem",
    "dead_letter",
    "dead_letter_count",
    "dead_letters",
    "enqueue",
    "mark_failed",
    "mark_sent",
    "outbox_backlog",
    "outbox_payload",
    "outbox_row",
    "pending_outbox",
]


@frozen
class OutboxItem:
    record_id: str  # the platform's idempotency key
    kind: str  # fill | check | refusal | alarm
    payload: Mapping[str, Any]  # JSON-ready: decimals as strings
    created_at: str
    attempts: int
    next_try_at: str | None
    dead_letter: str | None = None


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")  # 14.510 and 14.51 are one mass: one spelling
        return "0" if text in ("-0", "") else text
    if isinstance(value, Mapping):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def outbox_payload(row: Mapping[str, Any]) -> Any:
    """A record's row as its outbox payload holds it (and reads back): masses as exact text."""
    return _json_ready(row)


def outbox_row(record_id: str, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"record_id": record_id, "kind": kind, "payload": outbox_payload(payload), "created_at": utc_now()}


def enqueue(conn: Connection, record_id: str, kind: str, payload: Mapping[str, Any]) -> None:
    """Queue a record; call it in the transaction that stores the record (a duplicate id fails)."""
    # Parameters apart from the statement: SQLAlchemy then reuses one compiled INSERT.
    conn.execute(insert(t.outbox), [outbox_row(record_id, kind, payload)])


def _item(r: Any) -> OutboxItem:
    return OutboxItem(
        r["record_id"], r["kind"], r["payload"], r["created_at"], r["attempts"], r["next_try_at"],
        r["dead_letter"],
    )  # fmt: skip


_PENDING = (t.outbox.c.sent_at.is_(None), t.outbox.c.dead_letter.is_(None))


def pending_outbox(conn: Connection, limit: int = 100, now: str | None = None) -> list[OutboxItem]:
    """The oldest records neither accepted nor dead-lettered, and due (`next_try_at` ≤ `now`;
    every pending one when `now` is None), in the order they were stored."""
    q = select(t.outbox).where(*_PENDING)
    if now is not None:
        q = q.where(or_(t.outbox.c.next_try_at.is_(None), t.outbox.c.next_try_at <= now))
    q = q.order_by(t.outbox.c.id).limit(limit)
    return [_item(r) for r in conn.execute(q).mappings()]


def mark_sent(conn: Connection, record_ids: Iterable[str], at: str | None = None) -> int:
    """The platform accepted (or already had) these records; returns how many were pending."""
    ids = list(record_ids)
    if not ids:
        return 0
    q = update(t.outbox).where(t.outbox.c.record_id.in_(ids), *_PENDING).values(sent_at=at or utc_now())
    return conn.execute(q).rowcount


def anchor_acknowledged_fills(conn: Connection, record_ids: Iterable[str]) -> None:
    """Of these records the platform accepted, the newest fill becomes the chain's platform anchor
    (schema.PLATFORM_FILL_ANCHOR) if it is newer than the anchor: in the same transaction as the
    acceptance, so an anchor never names a fill the platform does not hold."""
    ids = list(record_ids)
    if not ids:
        return
    f = t.fill.c
    newest = conn.execute(
        select(f.seq, f.hash).where(f.record_id.in_(ids)).order_by(f.seq.desc()).limit(1)
    ).first()
    if newest is None:
        return
    h = t.chain_head.c
    anchor = conn.execute(select(h.seq).where(h.id == t.PLATFORM_FILL_ANCHOR)).scalar()
    if anchor is None:
        conn.execute(insert(t.chain_head).values(id=t.PLATFORM_FILL_ANCHOR, seq=newest.seq, hash=newest.hash))
    elif newest.seq > anchor:
        conn.execute(
            update(t.chain_head)
            .where(h.id == t.PLATFORM_FILL_ANCHOR)
            .values(seq=newest.seq, hash=newest.hash)
        )


def mark_failed(conn: Connection, record_ids: Iterable[str], next_try_at: str) -> None:
    """An attempt failed (network, 5xx, lost reply): count it and try again at `next_try_at`."""
    ids = list(record_ids)
    if ids:
        conn.execute(
            update(t.outbox)
            .where(t.outbox.c.record_id.in_(ids), *_PENDING)
            .values(attempts=t.outbox.c.attempts + 1, next_try_at=next_try_at)
        )


def dead_letter(conn: Connection, record_id: str, reason: str) -> None:
    """The platform refused the record for good: keep it, with why, out of the upload queue."""
    conn.execute(
        update(t.outbox)
        .where(t.outbox.c.record_id == record_id, *_PENDING)
        .values(dead_letter=reason or "refused", attempts=t.outbox.c.attempts + 1)
    )


def dead_letters(conn: Connection, limit: int = 100, *, newest_first: bool = False) -> list[OutboxItem]:
    order = t.outbox.c.id.desc() if newest_first else t.outbox.c.id
    q = select(t.outbox).where(t.outbox.c.dead_letter.is_not(None)).order_by(order).limit(limit)
    return [_item(r) for r in conn.execute(q).mappings()]


def dead_letter_count(conn: Connection) -> int:
    q = select(func.count()).select_from(t.outbox).where(t.outbox.c.dead_letter.is_not(None))
    return int(conn.execute(q).scalar_one())


def outbox_backlog(conn: Connection) -> int:
    """How many records still wait for the platform (dead letters not counted)."""
    return int(conn.execute(select(func.count()).select_from(t.outbox).where(*_PENDING)).scalar_one())
