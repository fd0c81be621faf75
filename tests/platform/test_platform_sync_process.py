"""The platform sync in its own process (what `fillfloor serve` runs): records go up, the registry
comes down into the floor's state, its events reach the floor's bus and its figures the console;
killing it loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio

from domain.events import SyncBatch
from platform_client.bridge import SyncProcess
from platform_client.settings import SyncSettings
from supervisor.config import PlatformConfig
from supervisor.registry_watch import RegistryWatch, read_registry
from supervisor.runtime import EventBus
from supervisor.runtime.pipe import PipeClosed
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
from supervisor.storage.database import Database
from supervisor.storage.outbox import outbox_backlog
from supervisor.storage.repository import store_all
from tests.support.platform_env import REGULATOR, TODAY, UNIT, Env, archive, floor_records, platform_env
from tests.support.waiting import until

CODE = f"{UNIT}0000001"


def _floor_db(tmp_path: Path, records: int) -> tuple[Database, str]:
    url = f"sqlite:///{tmp_path / 'floor.db'}"
    db = open_database(url)
    with db.transaction() as conn:
        store_all(conn, floor_records(records))
    return db, url


def _process(env: Env, db: Database, url: str, bus: EventBus) -> tuple[SyncProcess, FloorState]:
    settings = SyncSettings(PlatformConfig(env.url, sync_interval_s=0.2), UNIT, env.keys[UNIT], timeout_s=5.0)
    state = FloorState(UNIT, lambda: TODAY, [archive(CODE)])
    return SyncProcess(settings, url, state, bus), state


def _backlog(db: Database) -> int:
    with db.reading() as conn:
        return outbox_backlog(conn)


async def test_records_go_up_and_the_registry_comes_down_through_the_process(tmp_path: Path) -> None:
    db, url = _floor_db(tmp_path, records=4)
    bus = EventBus()
    batches = bus.subscribe("test", coalesce=False, accept=lambda e: isinstance(e.payload, SyncBatch))
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env, trio.open_nursery() as nursery:
        sync, state = _process(env, db, url, bus)
        with db.reading() as conn:  # what serve runs beside it: the registry watch
            watch = RegistryWatch(db, state, bus.publish, read_registry(conn), period_s=0.1)
        await nursery.start(watch.run)
        await nursery.start(sync.run)
        assert sync.pid != os.getpid()
        await until(lambda: _backlog(db) == 0)
        batch = await batches.receive()  # the process's event, on the floor's bus
        assert isinstance(batch.payload, SyncBatch)
        assert batch.payload.accepted > 0
        await until(lambda: sync.figures().get("backlog") == 0 and sync.figures().get("status") == "ok")
        async with env.client(REGULATOR) as regulator:
            r = await regulator.post("/v1/regulator/actions", json={"action": "block", "cylinder": CODE})
            assert r.status_code == 200, r.text
        await until(lambda: state.archives[CODE].blocked)  # stored by the process, brought in by the watch
        sync.nudge()  # (a nudge with nothing waiting is harmless)
        nursery.cancel_scope.cancel()
    db.close()


async def test_a_killed_sync_process_ends_its_service_and_loses_nothing(tmp_path: Path) -> None:
    db, url = _floor_db(tmp_path, records=3)
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        sync, _state = _process(env, db, url, EventBus())

        async def run_and_kill() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(sync.run)
                assert sync.pid is not None
                os.kill(sync.pid, signal.SIGKILL)

        with pytest.raises(BaseExceptionGroup) as ended, trio.fail_after(20):
            await run_and_kill()
        assert ended.value.subgroup(PipeClosed) is not None
        again, _ = _process(env, db, url, EventBus())  # what its supervisor does: start anew
        async with trio.open_nursery() as nursery:
            await nursery.start(again.run)
            await until(lambda: _backlog(db) == 0)
            nursery.cancel_scope.cancel()
        stored = [rid for rid, _kind, status in env.events if status == "stored"]
        assert len(stored) == len(set(stored))  # each record once at the platform
    db.close()
