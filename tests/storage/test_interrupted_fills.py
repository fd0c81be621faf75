"""A fill's open marker, and the fills a killed supervisor left open recorded as interrupted at start.

On SQLite and PostgreSQL: a marker closed by its fill's record is never recorded again; a marker
left alone becomes one interrupted fill, chained (verify-chain passes) and queued for the platform.
"""

from __future__ import annotations

from decimal import Decimal

import attrs
from sqlalchemy import func, select

from domain.records import FillOpened, FillRecord
from supervisor.storage import open_database, verify_chain
from supervisor.storage import schema as t
from supervisor.storage.interrupted import record_interrupted_fills
from supervisor.storage.repository import store_all

AT = "2026-11-23T08:00:00.000+00:00"


def _marker(rid: str) -> FillOpened:
    return FillOpened(record_id=rid, cylinder="HY00120000001", station="S1", operator="OP01", started_at=AT,
                      tare_kg=Decimal("15.2"), target_kg=Decimal("29.7"), gross_before_kg=Decimal("15.31"),
                      preact_kg=Decimal("0.42"), precheck_id="chk-1")  # fmt: skip


def _fill(rid: str) -> FillRecord:
    return FillRecord(record_id=rid, cylinder="HY00120000001", station="S1", operator="OP01",
                      outcome="completed", started_at=AT, ended_at=AT, tare_kg=Decimal("15.2"),
                      target_kg=Decimal("29.7"), gross_kg=Decimal("29.71"))  # fmt: skip


def test_an_open_marker_becomes_one_interrupted_fill_and_a_closed_one_nothing(db_url: str) -> None:
    db = open_database(db_url)
    try:
        with db.transaction() as conn:
            store_all(conn, [_marker("fill-a"), _fill("fill-a"), _marker("fill-b")])
            store_all(conn, [_marker("fill-b")])  # offered again after a lost acknowledgement
            store_all(conn, [_marker("fill-a")])  # offered again with its fill, which deleted it
            # Another floor's live fill (it shares the database): not this floor's to record.
            store_all(conn, [attrs.evolve(_marker("fill-c"), station="S9")])
        with db.transaction() as conn:
            links = record_interrupted_fills(conn, "2026-11-23T08:05:00.000+00:00", ["S1", "S2"])
        assert [(link.seq, link.record_id) for link in links] == [(2, "fill-b")]
        with db.transaction() as conn:  # a second start finds nothing left open
            assert record_interrupted_fills(conn, "2026-11-23T08:06:00.000+00:00", ["S1", "S2"]) == []
        with db.reading() as conn:
            f = t.fill.c
            columns = (f.record_id, f.outcome, f.reason, f.gross_kg, f.target_kg)
            fills = conn.execute(select(*columns).order_by(f.seq)).all()
            outbox = conn.execute(select(t.outbox.c.record_id).where(t.outbox.c.kind == "fill")).scalars()
            left_open = conn.execute(select(func.count()).select_from(t.fill_open)).scalar_one()
            assert [tuple(f) for f in fills] == [
                ("fill-a", "completed", None, Decimal("29.710"), Decimal("29.700")),
                ("fill-b", "interrupted", "supervisor.shutdown", None, Decimal("29.700")),
            ]
            assert sorted(outbox) == ["fill-a", "fill-b"]
            assert left_open == 1  # fill-c, the other floor's
        assert verify_chain(db.engine).ok
    finally:
        db.close()
