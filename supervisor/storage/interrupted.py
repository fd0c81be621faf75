"""Fills the supervisor died during, recorded as interrupted when the floor starts again.

Every fill's open marker (`FillOpened`, table `fill_open`) is durable before its valve's permit is
energised, and is deleted in the transaction that stores the fill's own record. So after a SIGKILL
or a power cut, a marker without its fill is exactly a fill that may have run and has no record:
it becomes a fill record with outcome `interrupted` (reason `supervisor.shutdown`; the gross after
is unknown, nobody re-weighed it), chained and queued for the platform like any other, and its
marker goes in the same transaction. A fill whose record was committed is never recorded twice.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from domain.reasons import Reason
from domain.records import FillOpened
from supervisor.storage import schema as t
from supervisor.storage.fills import FillLink
from supervisor.storage.record_rows import record_from_row
from supervisor.storage.repository import store_all

__all__ = ["record_interrupted_fills"]


def record_interrupted_fills(conn: Connection, now: str, stations: Collection[str]) -> list[FillLink]:
    """Record every fill of `stations` left open by a supervisor that died, in the caller's
    transaction; `now` (ISO 8601 UTC) is the record's end: the moment it was found, the true end
    being unknown. Only this floor's stations: a database shared with another running floor
    (`ChainAppender` allows it) holds that floor's live fills' markers too."""
    m = t.fill_open.c
    orphans = select(t.fill_open).where(~m.record_id.in_(select(t.fill.c.record_id)), m.station.in_(stations))
    rows = conn.execute(orphans.order_by(m.started_at)).mappings()
    reason = str(Reason.SUPERVISOR_SHUTDOWN)
    records = [record_from_row(FillOpened, row).interrupted(now, reason) for row in rows]
    return [link for link in store_all(conn, records) if link is not None]
