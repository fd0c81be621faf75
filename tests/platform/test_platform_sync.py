"""The platform sync against the reference platform on real loopback HTTP (hypercorn).

What a user would notice: every record the floor committed reaches the platform exactly once
whatever the outage (down, 5xx storms, throttling, lost replies, the floor stopped mid-batch); a
record the platform refuses is dead-lettered with its reason and nothing else is held up; and what
the regulator and the agencies do reaches the interlock's registry by sync, and stays after a
restart.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from sqlalchemy import select

from domain.alarm_notices import AlarmNotice
from domain.backoff import Backoff
from domain.events import FloorEvent, SyncBatch, SyncRegistry
from domain.times import utc_now
from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from platform_server.changes import append_change
from supervisor.config import PlatformConfig
from supervisor.runtime import EventBus
from supervisor.runtime.bus import Event
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
from supervisor.storage import schema as t
from supervisor.storage.database import Database
from supervisor.storage.outbox import dead_letters, enqueue, outbox_backlog
from supervisor.storage.registry import get_cursor, load_archive, regulator_disables
from supervisor.storage.repository import store_all
from tests.support.platform_env import (
    REGULATOR,
    TODAY,
    UNIT,
    Env,
    archive,
    floor_records,
    platform_env,
    self_signed_certificate,
)
from tests.support.waiting import until

CODE = f"{UNIT}0000001"
FAST_BACKOFF = Backoff(initial_s=0.05, max_s=0.4)  # (a test's outages last a moment)
ROOT = Path(__file__).resolve().parents[2]


@attrs.define
class Run:
    sync: PlatformSync
    events: list[Event]
    state: FloorState

    def batches(self, status: str | None = None) -> list[Event]:
        batches = [e for e in self.events if isinstance(e.payload, SyncBatch)]
        return [e for e in batches if status in (None, e.fields["status"])]


def _floor_db(tmp_path: Path, records: int = 3) -> Database:
    db = open_database(f"sqlite:///{tmp_path / 'floor.db'}")
    with db.transaction() as conn:
        store_all(conn, floor_records(records))
    return db


@asynccontextmanager
async def running_sync(env: Env, db: Database, key: str | None = None, **settings: Any) -> AsyncIterator[Run]:
    """A platform sync for the unit UNIT on `db`, with fast timings, its events collected."""
    settings.setdefault("sync_interval_s", 0.2)
    settings.setdefault("timeout_s", 5.0)
    in_file = {a.name for a in attrs.fields(PlatformConfig)}
    platform = PlatformConfig(env.url, **{k: v for k, v in settings.items() if k in in_file})
    sync_settings = SyncSettings(platform, UNIT, key or env.keys[UNIT], backoff=FAST_BACKOFF,
                                 **{k: v for k, v in settings.items() if k not in in_file})  # fmt: skip
    bus = RecordingBus()
    state = FloorState(UNIT, lambda: TODAY, [archive(CODE)])
    sync = PlatformSync(sync_settings, db, state, bus)
    async with trio.open_nursery() as nursery:
        await nursery.start(sync.run)
        yield Run(sync, bus.seen, state)
        nursery.cancel_scope.cancel()


class RecordingBus(EventBus):
    """Keeps every event as it is published (a subscriber task would see it a moment later)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Event] = []

    def publish(self, payload: FloorEvent, *, coalesce_key: Hashable | None = None) -> None:
        self.seen.append(Event(payload, coalesce_key))
        super().publish(payload, coalesce_key=coalesce_key)


def drained(run: Run, db: Database) -> bool:
    """Every record answered, and the sync done with its last batch (its figures and events are
    updated right after the database: both must say so, or a test reads them half-way)."""
    return run.sync.outbox.backlog == 0 and backlog(db) == 0


def backlog(db: Database) -> int:
    with db.reading() as conn:
        return outbox_backlog(conn)


def assert_each_stored_once(env: Env, records: int) -> None:
    """The platform stored `records` records, none of them twice."""
    counts = stored_once(env)
    assert len(counts) == records
    assert set(counts.values()) == {1}


def stored_once(env: Env) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record_id, _kind, status in env.events:
        if status == "stored":
            counts[record_id] = counts.get(record_id, 0) + 1
    return counts


async def test_the_outbox_drains_to_the_platform_and_each_record_is_stored_once(tmp_path: Path) -> None:
    db = _floor_db(tmp_path, records=5)
    # A minute between rounds: the late record below can only go up at once because it is nudged.
    async with (
        platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env,
        running_sync(env, db, sync_interval_s=60.0) as run,
    ):
        await until(lambda: run.sync.outbox.backlog == 0 and run.sync.last_success is not None)
        assert backlog(db) == 0
        ok = run.batches("ok")
        assert sum(e.fields["accepted"] for e in ok) == 8  # 5 fills, a check, a refusal, an alarm
        assert stored_once(env) == dict.fromkeys(stored_once(env), 1)
        assert len(stored_once(env)) == 8
        with db.reading() as conn:  # the newest acknowledged fill anchors the chain (verify-chain)
            h = t.chain_head.c
            anchored = conn.execute(select(h.seq).where(h.id == t.PLATFORM_FILL_ANCHOR)).scalar()
        assert anchored == 5
        # A record stored later is uploaded at once (the sink nudges), well before the interval.
        with db.transaction() as conn:
            enqueue(conn, "chk-late", "check", _check_payload())
        run.sync.nudge()
        await until(lambda: "chk-late" in stored_once(env))
    db.close()


def _check_payload(**over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "cylinder_code": CODE, "phase": "pre", "result": "pass", "items": {"valve": "ok"},
        "checker": "CK01", "station": "S1", "at": "2026-11-23T08:00:00.000+00:00",
    }  # fmt: skip
    payload.update(over)
    return payload


@pytest.mark.parametrize("platform_db", ["sqlite", "postgresql"])
async def test_lost_replies_are_resent_and_the_platform_keeps_one_copy(
    tmp_path: Path, platform_db: str, request: pytest.FixtureRequest
) -> None:
    db = _floor_db(tmp_path, records=6)
    url = (
        request.getfixturevalue("pg_url") if platform_db == "postgresql" else f"sqlite:///{tmp_path / 'p.db'}"
    )
    async with platform_env(url) as env:
        env.app.faults.set("drop_response")  # every batch stored, every reply lost ...
        async with running_sync(env, db, batch_size=3) as run:
            await until(lambda: bool(run.batches("lost_reply")))  # (seen as such)
            env.app.faults.set("up")  # ... until the floor has lost one
            await until(lambda: drained(run, db))
            duplicates = [rid for rid, _k, status in env.events if status == "duplicate"]
    assert duplicates, "the resent batch came back as duplicates"
    assert_each_stored_once(env, 9)
    db.close()


async def test_a_5xx_storm_is_waited_out_and_nothing_is_lost(tmp_path: Path) -> None:
    db = _floor_db(tmp_path, records=4)
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        env.app.faults.set("error_5xx")
        async with running_sync(env, db) as run:
            await until(lambda: len([e for e in run.batches() if e.fields["status"] != "ok"]) >= 2)
            env.app.faults.set("up")
            await until(lambda: drained(run, db))
            failed = [e.fields["status"] for e in run.batches() if e.fields["status"] != "ok"]
    # (The registry pulls draw from the same 500, 502, 503 rotation.)
    assert len(failed) >= 2
    assert set(failed) <= {"http_500", "http_502", "http_503"}
    with db.reading() as conn:
        assert not dead_letters(conn), "a 5xx never dead-letters a record"
    assert_each_stored_once(env, 7)
    db.close()


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    db = _floor_db(tmp_path, records=1)
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        env.app.faults.set("throttle")  # 429 with Retry-After: 2 ...
        async with running_sync(env, db) as run:
            await until(lambda: bool(run.batches("http_429")))
            env.app.faults.set("up")  # ... to the first batch
            await until(lambda: drained(run, db))
            attempts = [e.at for e in run.batches()]
            assert [e.fields["status"] for e in run.batches()] == ["http_429", "ok"]
    # The backoff alone would have retried within 0.05-0.1 s: the platform asked for 2 s.
    assert attempts[1] - attempts[0] >= 2.0
    db.close()


async def test_a_rejected_record_is_dead_lettered_with_its_reason_and_the_rest_go_through(
    tmp_path: Path,
) -> None:
    db = _floor_db(tmp_path, records=2)
    with db.transaction() as conn:
        enqueue(conn, "chk-bad", "check", _check_payload(phase="sideways"))
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env, running_sync(env, db) as run:
        await until(lambda: drained(run, db))
        figures = run.sync.figures()
    assert figures["dead_letters"] == 1
    assert figures["recent_dead_letters"][0]["record_id"] == "chk-bad"
    assert figures["recent_dead_letters"][0]["reason"].startswith("record.bad_field: records[")
    assert "chk-bad" not in stored_once(env)
    assert len(stored_once(env)) == 5
    assert sum(e.fields["rejected"] for e in run.batches("ok")) == 1
    db.close()


async def test_a_floor_stopped_mid_batch_resends_it_after_restart_and_nothing_is_doubled(
    tmp_path: Path,
) -> None:
    db = _floor_db(tmp_path, records=3)
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        env.app.faults.set("slow")  # the batch is stored; its reply comes long after
        env.app.faults.slow_s = 60.0
        async with running_sync(env, db):
            await until(lambda: len(env.events) == 6)  # stored at the platform, reply still on its way
        assert backlog(db) == 6, "stopped before the reply: nothing was marked sent"
        env.app.faults.set("up")
        async with running_sync(env, db) as run:
            await until(lambda: drained(run, db))
            assert sum(e.fields["duplicates"] for e in run.batches("ok")) == 6
    assert_each_stored_once(env, 6)
    db.close()


_SYNC_PROCESS = """
import sys, trio, datetime as dt
from domain.alarm_notices import AlarmNotice
from domain.backoff import Backoff
from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from supervisor.config import PlatformConfig
from supervisor.runtime import EventBus
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
url, unit, key, floor_db = sys.argv[1:]
db = open_database(floor_db)
settings = SyncSettings(PlatformConfig(url, sync_interval_s=0.2), unit, key,
                        backoff=Backoff(initial_s=0.05, max_s=0.4))
sync = PlatformSync(settings, db, FloorState(unit, dt.date.today), EventBus())
trio.run(sync.run)
"""


async def test_a_floor_killed_mid_batch_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    """SIGKILL, not a clean stop: the process dies with the batch stored and its reply unread."""
    floor_url = f"sqlite:///{tmp_path / 'floor.db'}"
    _floor_db(tmp_path, records=3).close()
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        env.app.faults.set("slow")
        env.app.faults.slow_s = 5.0
        command = [sys.executable, "-c", _SYNC_PROCESS, env.url, UNIT, env.keys[UNIT], floor_url]
        proc = await trio.lowlevel.open_process(command, cwd=ROOT)
        try:
            await until(lambda: len(env.events) == 6)  # stored at the platform, the reply on its way
            proc.kill()
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
        db = open_database(floor_url)
        assert backlog(db) == 6, "killed before the reply: nothing was marked sent"
        env.app.faults.set("up")
        proc = await trio.lowlevel.open_process(command, cwd=ROOT)
        try:
            await until(lambda: backlog(db) == 0)
        finally:
            proc.kill()
            await proc.wait()
    assert [status for _r, _k, status in env.events].count("duplicate") == 6
    assert_each_stored_once(env, 6)
    db.close()


async def test_days_of_backlog_drain_in_batches(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'floor.db'}")
    with db.transaction() as conn:
        for n in range(1200):
            enqueue(conn, f"chk-{n:05d}", "check", _check_payload(at=f"2026-11-{1 + n // 100:02d}T08:00:00Z"))
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        env.app.faults.set("down")  # days offline: nothing gets through ...
        async with running_sync(env, db, batch_size=250) as run:
            await until(lambda: len(run.batches("lost_reply")) >= 2)
            assert backlog(db) == 1200
            env.app.faults.set("up")  # ... until the link is back
            await until(lambda: drained(run, db), timeout_s=60)
            sizes = [e.fields["sent"] for e in run.batches("ok")]
    assert sizes == [250, 250, 250, 250, 200]
    assert len(stored_once(env)) == 1200
    db.close()


async def test_refused_credentials_keep_every_record_and_say_why(tmp_path: Path) -> None:
    db = _floor_db(tmp_path, records=1)
    async with (
        platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env,
        running_sync(env, db, key="ffk_not-the-key") as run,
    ):
        await until(lambda: len(run.batches("http_401")) >= 2)
        figures = run.sync.figures()
    assert figures["status"] == "http_401"
    assert "auth.bad_signature" in figures["detail"]
    assert figures["dead_letters"] == 0
    assert backlog(db) == 4
    assert figures["registry_status"] == "http_401"
    db.close()


async def test_records_to_upload_count_what_waits_while_the_platform_refuses_the_key(tmp_path: Path) -> None:
    """F6's "records to upload" is the outbox's real count, also for records stored after the
    sync started while every batch is refused (it stayed at the count read at start)."""
    db = _floor_db(tmp_path, records=0)
    waiting = backlog(db) + 3
    async with (
        platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env,
        running_sync(env, db, key="ffk_not-the-key") as run,
    ):
        await until(lambda: len(run.batches("http_401")) >= 1)  # refused, with what was there
        with db.transaction() as conn:
            for n in range(3):
                enqueue(conn, f"chk-{n:05d}", "check", _check_payload())
        seen = len(run.batches("http_401"))
        run.sync.nudge()
        await until(lambda: len(run.batches("http_401")) > seen)
        figures = run.sync.figures()
        last_batch = run.batches("http_401")[-1].fields
    assert backlog(db) == waiting
    assert figures["backlog"] == waiting
    assert last_batch["backlog"] == waiting
    db.close()


async def test_regulator_and_inspection_actions_reach_the_registry_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    db = _floor_db(tmp_path, records=0)
    overdue = f"{UNIT}0000002"
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        async with env.client(UNIT) as unit:
            r = await unit.post("/v1/stations", json={"stations": [{"id": "S1"}, {"id": "S2"}]})
            assert r.status_code == 200, r.text
        async with running_sync(env, db) as run:
            await until(lambda: run.sync.registry_current)
            assert run.state.archives[overdue].next_inspection == dt.date(2027, 6, 1)
            async with env.client(REGULATOR) as regulator:
                r = await regulator.post("/v1/regulator/actions", json={"action": "disable", "unit": UNIT,
                                                                        "station": "S2"})  # fmt: skip
                assert r.status_code == 200, r.text
                r = await regulator.post("/v1/regulator/actions", json={"action": "block", "cylinder": CODE})
                assert r.status_code == 200, r.text
            async with env.client("AG01") as agency:
                r = await agency.post("/v1/inspections", json={"cylinder": overdue, "result": "pass",
                                                              "next_inspection": "2030-11-20"})  # fmt: skip
                assert r.status_code == 200, r.text
            # (At the next pull, 0.2 s on here: bounded generously, as the machine may be busy.)
            await until(lambda: run.state.disabled("S2") and run.state.archives[CODE].blocked)
            await until(lambda: run.state.archives[overdue].next_inspection == dt.date(2030, 11, 20))
            assert not run.state.disabled("S1")
            cursor = run.sync.cursor
            assert any(isinstance(e.payload, SyncRegistry) for e in run.events)
        with db.reading() as conn:
            assert regulator_disables(conn) == {"S2"}
            assert get_cursor(conn) == str(cursor)
            stored = load_archive(conn, CODE)
            assert stored is not None
            assert stored.blocked
        async with running_sync(env, db) as again:  # a restart: from the stored cursor, nothing replayed
            await until(lambda: again.sync.registry_current)
            assert again.sync.cursor == cursor
            assert not [e for e in again.events if isinstance(e.payload, SyncRegistry)]
    db.close()


async def test_a_change_it_cannot_read_stops_the_pull_before_it(tmp_path: Path) -> None:
    db = _floor_db(tmp_path, records=0)
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        with env.app.store.transaction() as conn:
            s3_off = {"unit": UNIT, "id": "S3", "enabled": False, "reason": ""}
            good = append_change(conn, UNIT, "station", "regulator_disable", s3_off, utc_now())
            append_change(conn, UNIT, "station", "regulator_enable", {"unit": UNIT, "id": "S3"}, utc_now())
        async with running_sync(env, db) as run:
            await until(lambda: run.sync.registry_status == "bad_change")
            assert run.sync.cursor == good
            assert run.state.disabled("S3"), "the changes before the bad one were applied"
            assert "enabled" in run.sync.registry_detail
            assert not run.sync.registry_current
    db.close()


@pytest.mark.parametrize("verify", ["system", "ca"])
async def test_tls_is_verified(tmp_path: Path, verify: str) -> None:
    """A platform behind a certificate the system does not trust is refused; with the plant's CA
    configured it is accepted."""
    cert, key = self_signed_certificate(tmp_path)
    db = _floor_db(tmp_path, records=1)
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}", certfile=str(cert), keyfile=str(key)) as env:
        assert env.url.startswith("https://")
        ca = str(cert) if verify == "ca" else True
        async with running_sync(env, db, ca_file=ca) as run:
            if verify == "ca":
                await until(lambda: drained(run, db))
            else:
                await until(lambda: bool(run.batches("unreachable")))
                assert "CERTIFICATE_VERIFY_FAILED" in run.sync.detail
                assert backlog(db) == 4
    db.close()


async def test_a_link_too_slow_for_the_batch_gets_smaller_batches_then_full_ones_again(
    tmp_path: Path,
) -> None:
    db = _floor_db(tmp_path, records=13)  # 16 records
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        env.app.faults.set("slow")
        env.app.faults.slow_s = 60.0  # every reply comes after the client gave up on it
        # (1.5 s: a healthy reply comes in time however busy the machine, and no extra timeout
        # changes the sizes below)
        async with running_sync(env, db, batch_size=8, timeout_s=1.5) as run:
            await until(lambda: run.sync.batch_size == 1)
            env.app.faults.set("up")
            await until(lambda: drained(run, db))
            timeouts = [e.fields["sent"] for e in run.batches("timeout")]
            sizes = [e.fields["sent"] for e in run.batches("ok")]
            assert run.sync.batch_size == 8
    assert timeouts == [8, 4, 2]  # then 1: the platform is back by the time it is sent
    assert sizes[:4] == [1, 2, 4, 8], "doubled back after each full batch"
    assert_each_stored_once(env, 16)
    db.close()


async def test_a_batch_over_the_platforms_limit_gets_smaller_though_its_413_is_unsigned(
    tmp_path: Path,
) -> None:
    """A 413 is answered before the platform (or a TLS proxy in front of it) has checked who asks,
    so it comes unsigned: the sync still sends smaller batches, and every record arrives once."""
    db = _floor_db(tmp_path, records=13)  # 16 records, most of them about 1.2 kB
    limited = platform_env(f"sqlite:///{tmp_path / 'p.db'}", max_body_bytes=3000)
    async with limited as env, running_sync(env, db, batch_size=8) as run:
        await until(lambda: drained(run, db))
        too_large = [e.fields["sent"] for e in run.batches("http_413")]
        assert not run.batches("forged_reply")
    assert too_large[0] == 8
    assert min(too_large) >= 4, "a batch of 2 fits: never halved below it"
    assert_each_stored_once(env, 16)
    db.close()


async def test_a_platform_refusing_the_units_key_is_one_alarm_until_a_request_goes_through(
    tmp_path: Path,
) -> None:
    db = _floor_db(tmp_path, records=1)
    notices: list[AlarmNotice] = []
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        platform = PlatformConfig(env.url, sync_interval_s=0.2)
        wrong = SyncSettings(platform, UNIT, "ffk_not-the-key", backoff=FAST_BACKOFF, timeout_s=5.0)
        state = FloorState(UNIT, lambda: TODAY, [archive(CODE)])
        sync = PlatformSync(wrong, db, state, RecordingBus(), alarm=notices.append)
        async with trio.open_nursery() as nursery:
            await nursery.start(sync.run)
            await until(
                lambda: (
                    sync.figures()["status"] == "http_401" and sync.figures()["registry_status"] == "http_401"
                )
            )
            await trio.sleep(0.5)  # more refused uploads and pulls: still one alarm
            nursery.cancel_scope.cancel()
        assert [(n.change, n.kind, n.params["status"]) for n in notices] == [
            ("raised", "platform.credentials_refused", "http_401")]  # fmt: skip
        # The key is fixed and the service started anew, finding the alarm on the floor's board:
        # its first accepted request clears it.
        right = attrs.evolve(wrong, key=env.keys[UNIT])
        again = PlatformSync(right, db, state, RecordingBus(), alarm=notices.append, key_refused=notices[0])
        async with trio.open_nursery() as nursery:
            await nursery.start(again.run)
            await until(lambda: len(notices) == 2)
            nursery.cancel_scope.cancel()
    assert notices[1].change == "cleared"
    assert notices[1].alarm_id == notices[0].alarm_id
    db.close()
