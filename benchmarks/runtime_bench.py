"""The actor runtime on this machine: message hop latency, mailbox and bus throughput, idle cost.

    python -m benchmarks.runtime_bench

- hop latency: one message from a producer task to an actor through a `Mailbox`, timed from send
  to receipt (p50/p99 over many hops, one at a time so that queueing does not hide the hop);
- throughput: messages/s through a `Mailbox` (back-pressured, capacity 64) and events/s published
  on the `EventBus` to 4 subscribers (2 lossless, 2 coalescing), receivers draining;
- 1,000 idle actors under supervisors (each waiting on its mailbox): resident memory added, and
  CPU used while idle for 2 s (trio sleeps them: it should be ~0).
The baseline for throughput is a bare trio memory channel, measured in the same run.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import trio

from domain.events import StationWeight, ValveCommand
from simulator.measure import rss_kib
from supervisor.runtime.bus import EventBus
from supervisor.runtime.mailbox import Mailbox
from supervisor.runtime.spec import ChildSpec
from supervisor.runtime.supervisor import Supervisor

__all__ = ["run"]


async def _hop_latency(n: int) -> tuple[float, float]:
    box: Mailbox[float] = Mailbox("bench", capacity=64)
    got = trio.Event()
    samples: list[float] = []

    async def actor() -> None:
        nonlocal got
        async for sent in box:
            samples.append(time.perf_counter() - sent)
            got.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor)
        for _ in range(n):
            got = trio.Event()
            await box.send(time.perf_counter())
            await got.wait()
        nursery.cancel_scope.cancel()
    q = statistics.quantiles(samples, n=100)
    return q[49] * 1e6, q[98] * 1e6


async def _channel_throughput(n: int, use_mailbox: bool) -> float:
    send: Callable[[int], Awaitable[None]]
    receive: Callable[[], Awaitable[int]]
    if use_mailbox:
        box: Mailbox[int] = Mailbox("bench", capacity=64)
        send, receive = box.send, box.receive
    else:
        tx, rx = trio.open_memory_channel[int](64)
        send, receive = tx.send, rx.receive
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:

        async def consume() -> None:
            for _ in range(n):
                await receive()

        nursery.start_soon(consume)
        for i in range(n):
            await send(i)
    return n / (time.perf_counter() - start)


async def _bus_throughput(n: int) -> float:
    bus = EventBus()
    subs = [bus.subscribe(f"lossless{i}", capacity=n + 10, coalesce=False) for i in range(2)]
    subs += [bus.subscribe(f"console{i}") for i in range(2)]
    weights = [StationWeight(f"S{i}", Decimal("15.0"), stable=True) for i in range(32)]
    command = ValveCommand("S1", open=True, cause="fill")
    start = time.perf_counter()
    for i in range(n):
        if i % 4:
            weight = weights[i % 32]
            bus.publish(weight, coalesce_key=(StationWeight, weight.station))
        else:
            bus.publish(command)
    async with trio.open_nursery() as nursery:
        for s in subs:

            async def drain(s=s) -> None:
                while s.pending():
                    await s.receive()

            nursery.start_soon(drain)
    return n / (time.perf_counter() - start)


async def _idle_actors(count: int) -> tuple[float, float]:
    bus = EventBus()

    def idle(name: str) -> ChildSpec:
        box: Mailbox[object] = Mailbox(name)

        async def run(task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            async for _ in box:
                pass

        return ChildSpec(name, run)

    before = rss_kib()
    sups = [Supervisor(f"S{s}", [idle(f"S{s}.a{i}") for i in range(count // 50)], bus=bus) for s in range(50)]
    async with trio.open_nursery() as nursery:
        for sup in sups:
            await nursery.start(sup.run)
        after = rss_kib()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        await trio.sleep(2.0)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - wall0
        nursery.cancel_scope.cancel()
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return (after - before) / 1024, 100 * cpu / wall


def run() -> list[dict[str, object]]:
    p50, p99 = trio.run(_hop_latency, 20_000)
    bare = trio.run(_channel_throughput, 200_000, False)
    mailbox = trio.run(_channel_throughput, 200_000, True)
    bus = trio.run(_bus_throughput, 200_000)
    mib, cpu = trio.run(_idle_actors, 1000)
    return [
        {"name": "runtime: mailbox hop latency p50", "value": p50, "unit": "µs"},
        {"name": "runtime: mailbox hop latency p99", "value": p99, "unit": "µs"},
        {"name": "runtime: bare trio memory channel (baseline)", "value": bare, "unit": "msg/s"},
        {"name": "runtime: mailbox throughput", "value": mailbox, "unit": "msg/s", "ratio": mailbox / bare},
        {"name": "runtime: bus publish+deliver, 4 subscribers", "value": bus, "unit": "events/s",
         "note": "2 lossless + 2 coalescing"},
        {"name": "runtime: 1,000 idle actors, memory", "value": mib, "unit": "MiB",
         "note": "RSS added, 50 supervisors"},
        {"name": "runtime: 1,000 idle actors, CPU while idle", "value": cpu, "unit": "% of a core"},
    ]  # fmt: skip


def main() -> None:
    for r in run():
        ratio = f"  ×{r['ratio']:.2f} vs baseline" if "ratio" in r else ""
        print(f"{r['name']:<50} {r['value']:>12,.2f} {r['unit']}{ratio}  {r.get('note', '')}")


if __name__ == "__main__":
    main()
