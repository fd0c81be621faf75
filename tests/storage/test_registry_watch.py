"""The registry watch against a real database (SQLite and PostgreSQL, migrated as a floor's): an
import beside the floor reaches the floor's registry, and a change the floor already holds is not
undone by an older copy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import trio

from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.events import FloorEvent, RegistryReloaded
from supervisor.registry_watch import RegistryWatch, read_registry
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
from supervisor.storage.repository import import_archives, upsert_operators


def _archive(code: str, status: CylinderStatus = CylinderStatus.IN_SERVICE) -> CylinderArchive:
    return CylinderArchive(code=code, owner="HY0012", model="YSP35.5", tare_kg=Decimal("15.2"),
                           manufactured=dt.date(2021, 3, 1), last_inspection=dt.date(2025, 3, 1),
                           status=status)  # fmt: skip


async def test_an_import_reaches_the_floor_and_a_newer_floor_copy_stays(db_url: str) -> None:
    db = open_database(db_url)
    a, b = _archive("HY00120000123"), _archive("HY00120000124")
    with db.transaction() as conn:
        import_archives(conn, [a])
    with db.reading() as conn:
        start = read_registry(conn)
    state = FloorState("HY0012", dt.date.today, start.archives.values(), start.operators.values())
    # The platform sync's newer word on A, in the floor's state before the watch reads it.
    newer_a = attrs.evolve(a, blocked=True)
    state.put_archive(newer_a)
    events: list[FloorEvent] = []
    watch = RegistryWatch(db, state, events.append, start, period_s=0.01)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(watch.run)

            def write() -> None:
                with db.transaction() as conn:
                    import_archives(conn, [b])
                    upsert_operators(conn, [Operator("OP02", "李四", dt.date(2099, 1, 1))])

            await trio.to_thread.run_sync(write)
            with trio.fail_after(10):
                while not events:  # noqa: ASYNC110 - the watch's own period
                    await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    finally:
        db.close()
    assert events == [RegistryReloaded(archives=1, operators=1)]
    assert state.archives[b.code] == b
    assert "OP02" in state.operators
    assert state.archives[a.code] == newer_a  # not undone by the database's older copy
