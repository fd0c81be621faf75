"""The control path while the platform sync drains a backlog, in the floor's loop or its own process.

The sync in the floor's loop against the sync in its own process (what `fillfloor serve` runs),
issue 19.

    python -m benchmarks.sync_isolation [--stations 8] [--seconds 10] [--records 20000]

The floor of `benchmarks.console_latency` (a real `Floor`, in-process scales and valves at 20 Hz,
every station filling cylinder after cylinder) with `--records` records waiting in its outbox, as
after a day offline; the reference platform runs in another process (its work is not the floor's).
For `--seconds` the sync drains at its default batch size while the decision latency is measured;
the ratio is each run's p99 over the run without a sync, measured one after the other.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import trio

from benchmarks.filling_floor import filling_floor
from benchmarks.platform_drain import _records
from platform_client.bridge import SyncProcess
from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from simulator.measure import percentile
from supervisor.config import PlatformConfig
from supervisor.storage.database import Database
from supervisor.storage.outbox import outbox_backlog
from supervisor.storage.repository import store_all

__all__ = ["NOTES", "run"]

UNIT = "HY0012"
MODES = ("none", "in the floor's loop", "own process (serve)")

NOTES = """
The platform (hypercorn, SQLite) runs in a process of its own, so what is measured is the floor's
side of the sync: reading the outbox, encoding and signing each batch, TLS-free HTTP on loopback,
reading the replies (checking their signatures) and settling the outbox. "drained" is how many
records the platform took in the window. On these 2 cores the sync's process and the
platform's (not lowered: it stands for the city's) share the machine with the floor, and the
20,000 records are drained in the first seconds of the window, so single runs differ: earlier runs
on 2026-12-05 gave ×2.16 (in the loop) against ×0.77 (own process) for 5,000 records in 4 s, and
×1.11 for both with 20,000 records in 10 s.
"""


def _backlog(db: Database) -> int:
    with db.reading() as conn:
        return outbox_backlog(conn)


async def _measure(
    stations: int, seconds: float, records: int, mode: str, url: str, key: str, drain_wait_s: float
) -> tuple[list[float], int, int]:
    async with filling_floor(stations) as at_work:
        floor, db = at_work.floor, at_work.db

        def fill_outbox() -> None:
            backlog = _records(10_000_000, records)  # (codes no station uses)
            for start in range(0, len(backlog), 5000):
                with db.transaction() as conn:
                    store_all(conn, backlog[start : start + 5000])

        await trio.to_thread.run_sync(fill_outbox)
        before = await trio.to_thread.run_sync(_backlog, db)
        await trio.sleep(2)  # the floor in its stride
        at_work.time_decisions()
        settings = SyncSettings(PlatformConfig(url, sync_interval_s=3600), UNIT, key, timeout_s=60)
        sync: PlatformSync | SyncProcess | None = None
        if mode == MODES[1]:
            sync = PlatformSync(settings, db, floor.state, floor.bus)
        elif mode == MODES[2]:
            db_url = db.engine.url.render_as_string(hide_password=False)
            sync = SyncProcess(settings, db_url, floor.state, floor.bus)
        if sync is not None:
            floor.sink.on_written(sync.nudge)  # (as the floor wires it: its own records go up at once)
            await at_work.nursery.start(sync.run)
        await trio.sleep(seconds)
        measured = list(at_work.latencies)
        after = await trio.to_thread.run_sync(_backlog, db)
        with trio.move_on_after(drain_wait_s):
            while sync is not None and after:  # (a smoke test: every record up, however long it takes)
                await trio.sleep(0.2)
                after = await trio.to_thread.run_sync(_backlog, db)
    return measured, before - after, after


def run(stations: int = 8, seconds: float = 10.0, records: int = 20_000,
        modes: tuple[str, ...] = MODES, drain_wait_s: float = 0.0) -> list[dict[str, object]]:  # fmt: skip
    """The rows of the table. `drain_wait_s`: after the window, wait up to that long for the rest of
    the backlog (0, the benchmark: "drained" is what went up within the window)."""
    with tempfile.TemporaryDirectory(prefix="fillfloor-platform-") as tmp:
        command = [sys.executable, "-m", "benchmarks.sync_isolation", "--serve-platform", tmp]
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as platform:
            assert platform.stdout is not None
            where: dict[str, Any] = json.loads(platform.stdout.readline())
            rows: list[dict[str, object]] = []
            base = 0.0
            for mode in modes:
                latencies, drained, left = trio.run(
                    _measure, stations, seconds, records, mode, where["url"], where["key"], drain_wait_s
                )
                p99 = percentile(latencies, 99)
                name = f"decision p99, {stations} stations, sync {mode}"
                note = f"{len(latencies)} samples; drained {drained:,}, {left:,} left"
                row: dict[str, object] = {"name": name, "value": p99, "unit": "ms", "note": note}
                if mode == MODES[0]:
                    base = p99
                    row["note"] = f"{len(latencies)} samples; no sync (baseline)"
                else:
                    row["ratio"] = p99 / base if base else 0.0
                rows.append(row)
            platform.stdin.close()  # type: ignore[union-attr]
    return rows


async def _serve_platform(directory: str) -> None:
    """The platform's own process: a SQLite platform with the unit; says where, then serves until
    its stdin closes."""
    from platform_server import PlatformApp, open_store, running_platform
    from platform_server.key_seal import KeySeal
    from platform_server.parties import add_unit

    store = open_store(f"sqlite:///{Path(directory) / 'platform.db'}", KeySeal.generate())
    with store.transaction() as conn:
        key = add_unit(conn, store.seal, UNIT, "衡阳燃气")
    async with running_platform(PlatformApp(store)) as url:
        print(json.dumps({"url": url, "key": key}), flush=True)
        stdin = trio.lowlevel.FdStream(0)
        while await stdin.receive_some():
            pass
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--serve-platform", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_platform:
        trio.run(_serve_platform, args.serve_platform)
    else:
        for r in run(args.stations, args.seconds, args.records):
            ratio = f" (×{r['ratio']:.2f})" if "ratio" in r else ""
            print(f"{r['name']}: {r['value']:.3f} {r['unit']}{ratio} ({r['note']})")
