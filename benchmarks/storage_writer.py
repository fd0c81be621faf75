"""Durable fill records per second through the storage writer (SQLite, WAL, synchronous=FULL).

    python -m benchmarks.storage_writer [--records N]

Three ways, in one run on one machine so that the ratios compare like with like:
- baseline: one record per transaction, committed directly (what a naive writer does);
- writer, 1 producer: each `await write()` waits for its own commit, so no grouping is possible;
- writer, 8 producers: stations writing at once, committed in groups by the one writer.
Each record is a hash-chained fill plus its outbox row, both durable when `write()` returns.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

from supervisor.storage import FillRecord, StorageWriter, open_database
from supervisor.storage.repository import store
from supervisor.storage.verify import verify_chain

__all__ = ["run"]


def _fill(n: int) -> FillRecord:
    return FillRecord(
        record_id=f"bench-{n:07d}", cylinder=f"HY0012{n:07d}", station=f"S{n % 8 + 1}", operator="OP01",
        outcome="completed", started_at="2026-11-23T08:00:00.000+00:00",
        ended_at="2026-11-23T08:01:00.000+00:00", tare_kg=Decimal("15.2"), target_kg=Decimal("29.7"),
        gross_kg=Decimal("29.712"), net_kg=Decimal("14.512"), error_g=12,
    )  # fmt: skip


def _baseline(url: str, n: int) -> float:
    db = open_database(url)
    start = time.perf_counter()
    for i in range(n):
        with db.transaction() as conn:
            store(conn, _fill(i))
    elapsed = time.perf_counter() - start
    db.close()
    return n / elapsed


async def _through_writer(url: str, n: int, producers: int) -> tuple[float, int]:
    db = await trio.to_thread.run_sync(open_database, url)
    writer = StorageWriter(db)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        start = time.perf_counter()

        async def produce(p: int) -> None:
            for i in range(p, n, producers):
                await writer.write(_fill(i))

        async with trio.open_nursery() as inner:
            for p in range(producers):
                inner.start_soon(produce, p)
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    assert verify_chain(db.engine).count == n  # every record durable and chained
    db.close()
    return n / elapsed, writer.batches


def run(records: int = 2000) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = _baseline(f"sqlite:///{Path(tmp) / 'a.db'}", records)
        results.append(
            {"name": "storage: 1 record per commit (baseline)", "value": base, "unit": "records/s"}
        )
        for producers, name in ((1, "b"), (8, "c")):
            rate, batches = trio.run(_through_writer, f"sqlite:///{Path(tmp) / name}.db", records, producers)
            results.append(
                {
                    "name": f"storage: writer, {producers} producer(s)",
                    "value": rate,
                    "unit": "records/s",
                    "ratio": rate / base,
                    "note": f"{records / batches:.1f} records per commit",
                }
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=2000)
    for r in run(parser.parse_args().records):
        ratio = f"  ×{r['ratio']:.2f} vs baseline" if "ratio" in r else ""
        print(f"{r['name']:<44} {r['value']:>9.0f} {r['unit']}{ratio}  {r.get('note', '')}")


if __name__ == "__main__":
    main()
