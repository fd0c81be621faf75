"""Decision latency: a scale sample in, the coordinator's decision out, with many stations at once.

    python -m benchmarks.decision_latency [--seconds 10]

1, 32 and 256 stations, each a real coordinator actor (mailbox, core, orders, bus, record sink)
on one trio loop, each fed a weight sample every 50 ms (20 Hz) by its own task, all filling at
once in `host` cut-off (the mode where the host decides the cut-off from the samples). Latency is
timed from just before the sample is sent into the coordinator's mailbox to just after the core
has decided on it (orders set): p50/p99 over every sample, and the cut-off samples (the ones that
close a valve) on their own. Real time (perf_counter); the loop also runs the ticks and the sinks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from decimal import Decimal

import trio

from domain.checks import answered_in_full
from domain.fill_guard import StationLearning
from domain.fill_settings import FillSettings
from domain.labels import LabelRule
from domain.messages import (
    CheckPhase,
    CheckSubmitted,
    PermitOrder,
    Scanned,
    StationInput,
    ValveStatus,
    WeightSample,
)
from domain.records import Record
from domain.settings import DomainSettings
from simulator.measure import percentile
from simulator.model_rig import GOOD, OPERATOR, TODAY, UNIT, archive
from supervisor.runtime import EventBus, Latest, Mailbox
from supervisor.station.alarm_desk import AlarmDesk
from supervisor.station.coordinator import Coordinator
from supervisor.station.core import Effect, StationContext, StationCore
from supervisor.station.floor import FloorState
from supervisor.storage.sink import RecordSink

_ALL_OK = {phase: answered_in_full(phase.value, True, {}) for phase in CheckPhase}

__all__ = ["run"]


class _NullWriter:
    retrying: str | None = None

    async def write_many(self, records: Sequence[Record]) -> list[None]:
        await trio.lowlevel.checkpoint()
        return [None] * len(records)


async def _measure(stations: int, seconds: float) -> tuple[list[float], list[float]]:
    codes = [f"{GOOD[:-4]}{i:04d}" for i in range(stations)]
    floor = FloorState(UNIT, lambda: TODAY, [archive(c) for c in codes], [OPERATOR])
    bus = EventBus()
    sink = RecordSink(_NullWriter())
    all_ms: list[float] = []
    cut_ms: list[float] = []
    sent_at: dict[int, float] = {}

    def station(i: int) -> tuple[Coordinator, Mailbox[StationInput]]:
        ctx = StationContext(
            station=f"S{i}", floor=floor, rules=DomainSettings(), label_rule=LabelRule(UNIT),
            fill=FillSettings(), cutoff="host", gate_blockers=lambda: (), wall_now=lambda: "",
            new_id=lambda kind: f"{kind}-{time.perf_counter_ns()}",
        )  # fmt: skip
        core = StationCore(ctx, StationLearning(preact_kg=Decimal("0.3")))
        handle = core.handle

        def timed(msg: StationInput) -> list[Effect]:
            effects = handle(msg)
            t0 = sent_at.pop(id(msg), None)
            if t0 is not None:
                ms = (time.perf_counter() - t0) * 1000
                all_ms.append(ms)
                if any(isinstance(e, PermitOrder) and not e.open for e in effects):
                    cut_ms.append(ms)
            return effects

        core.handle = timed  # type: ignore[method-assign]
        inbox: Mailbox[StationInput] = Mailbox(f"S{i}", 256)
        permit: Latest[PermitOrder] = Latest()
        alarms = AlarmDesk(
            sink.put, bus.publish, wall_now=ctx.wall_now, new_id=ctx.new_id, clock=trio.current_time
        )
        coordinator = Coordinator(
            core, inbox, bus=bus, sink=sink, alarms=alarms, permit=permit, indicator=Latest()
        )
        return coordinator, inbox

    async def feed(i: int, inbox: Mailbox[StationInput], coordinator: Coordinator) -> None:
        """The scale: a cylinder that gains 2 kg/s while the permit is open; lifted off once
        filled and settled, a fresh one put on and scanned."""
        core = coordinator.core
        now = trio.current_time()
        await inbox.send(Scanned("OP01", badge=True, at=now))
        await inbox.send(
            CheckSubmitted(codes[i], CheckPhase.PRE, True, "CK01", _ALL_OK[CheckPhase.PRE], at=now)
        )
        gross, scan = Decimal("15.5"), True
        next_at = now + (i % 20) * 0.0025  # the stations spread over the 50 ms period
        while True:
            await trio.sleep_until(next_at)
            next_at += 0.05
            now = trio.current_time()
            permit = coordinator.permit_orders.peek()
            opened = permit is not None and permit.open
            if opened:
                gross += Decimal("0.1")  # 2 kg/s at 20 Hz
            elif core.phase.value in ("awaiting_postcheck", "done", "rejected"):
                gross = Decimal(0) if gross else Decimal("15.5")  # lifted off, then the next one
                scan = gross > 0
            sample = WeightSample(gross, not opened, now)
            sent_at[id(sample)] = time.perf_counter()
            await inbox.send(sample)
            if int(next_at * 20) % 2 == 0:  # the valve actor polls at 10 Hz
                await inbox.send(ValveStatus(opened, opened, now))
            if scan:
                scan = False
                await inbox.send(
                    CheckSubmitted(codes[i], CheckPhase.PRE, True, "CK01", _ALL_OK[CheckPhase.PRE], at=now)
                )
                await inbox.send(Scanned(codes[i], badge=False, at=now))

    async with trio.open_nursery() as nursery:
        await nursery.start(sink.run)
        for i in range(stations):
            coordinator, inbox = station(i)
            await nursery.start(coordinator.run)
            nursery.start_soon(feed, i, inbox, coordinator)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()
    return all_ms, cut_ms


def run(seconds: float = 10.0) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n in (1, 32, 256):
        all_ms, cut_ms = trio.run(_measure, n, seconds)
        note = f"{len(all_ms)} samples, {len(cut_ms)} cut-offs"
        for q in (50, 99):
            rows.append({"name": f"decision latency, {n} station(s) × 20 Hz: p{q}",
                         "value": percentile(all_ms, q), "unit": "ms", "note": note})  # fmt: skip
        if cut_ms:
            name = f"decision latency, {n} station(s): cut-off samples p99"
            note = f"{len(cut_ms)} cut-offs"
            rows.append({"name": name, "value": percentile(cut_ms, 99), "unit": "ms", "note": note})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    for r in run(parser.parse_args().seconds):
        print(f"{r['name']}: {r['value']:.3f} {r['unit']} ({r['note']})")
