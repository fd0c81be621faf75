"""The control path under a console flood (issue 19): decision latency, device alarms, aborted fills
and memory while another process floods the console server.

    python -m benchmarks.console_flood [--stations 8] [--seconds 10] [--scale 1.0] [--rounds 3]

The floor of `benchmarks.console_latency` (a real `Floor`, its console server, in-process scales and
valves at 20 Hz, every station filling cylinder after cylinder) runs with its descriptor limit at
1,024, as a service's usually is. Another process attacks, starting once the floor is in its
stride:
- `idle`: 1,000 sessions of one viewer token (hello, then silence);
- `half-open`: 2,000 TCP connections that never finish the WebSocket handshake;
- `slow-frames`: 500 connections each sending a 1 MiB frame a slice at a time.
Each is compared with the quiet run of its round (p99 of the decision latency, as in
console_latency), once with the console server in the floor's own process and once in its console
process (as `fillfloor serve` runs it, below the floor's CPU priority); the median over `--rounds`
rounds is given, and the notes give every round's ratio, device alarms, aborted fills and the floor
process's RSS.
`--scale` multiplies the attack's counts (the test suite runs it small).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import trio
import trio.lowlevel

from benchmarks.filling_floor import filling_floor, viewer_token
from domain.events import AlarmRaised, FillAborted
from simulator.measure import percentile, rss_kib
from supervisor.console.admission import Limits, connection_capacity
from supervisor.console.bridge import ConsoleProcess
from supervisor.console.child import ChildSettings
from supervisor.console.in_process import InProcessAccess
from supervisor.console.server import ConsoleServer

__all__ = ["ATTACKS", "NOTES", "Outcome", "measure", "run"]

ATTACKS = {"idle": 1000, "half-open": 2000, "slow-frames": 500}
SERVICE_DESCRIPTORS = 1024

NOTES = """
Each attack runs in its own process against a floor limited to 1,024 descriptors (`ulimit -n`, as a
service's); its counts are the issue's. Each round measures the quiet floor, then the attack with
the console server in the floor's process, then with it in its console process (as `fillfloor
serve` runs it, at niceness +10: below the floor when CPU is short). A ratio is an attacked run's
p99 over its round's quiet p99; the figure and ratio are medians over 3 rounds of 10 s, the note
lists every round's. "device alarms" counts `device.*` and `storage.*` alarms raised during the
attacks; "aborted" the fills aborted. On these 2 cores the attacker's process shares the machine
with the floor, so single rounds drift (×0.90–×1.58 in the console process's rounds of this run);
the medians stay within ×1.10 with the console in its own process, against ×1.52–×3.79 with it
in the floor's. What holds in every round: no device alarm and no aborted fill, and the floor's RSS
stays within a few MiB, whatever the attack.
"""


@attrs.frozen
class Outcome:
    latencies: tuple[float, ...]
    alarms: tuple[str, ...]  # kinds of the device and storage alarms raised
    aborted: int
    rss_kib: int
    attack_note: str


def _limit_descriptors(n: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


async def measure(stations: int, seconds: float, attack: str | None, count: int,
                  in_process: bool = False) -> Outcome:  # fmt: skip
    alarms: list[str] = []
    aborted = [0]
    async with filling_floor(stations) as at_work:
        floor, db, nursery = at_work.floor, at_work.db, at_work.nursery
        token = await viewer_token(db)
        limits = Limits(capacity=connection_capacity(96, device_links=3 * stations))
        access = InProcessAccess(floor, db)
        server: ConsoleServer | ConsoleProcess = (
            ConsoleServer(access, port=0, limits=limits)
            if in_process
            else ConsoleProcess(access, ChildSettings("127.0.0.1", 0, limits=limits))
        )
        port = await nursery.start(server.run)
        await trio.sleep(2)  # the floor in its stride

        async def watch() -> None:
            async for event in floor.bus.subscribe("flood-watch", coalesce=False, capacity=100_000):
                if isinstance(event.payload, FillAborted):
                    aborted[0] += 1
                elif isinstance(event.payload, AlarmRaised) and _of_the_floor(event.payload.kind):
                    alarms.append(event.payload.kind)

        nursery.start_soon(watch)
        attacker = None
        if attack is not None:
            command = [sys.executable, "-m", "benchmarks.console_flood", "--attack", attack,
                       "--count", str(count), "--port", str(port), f"--token={token}"]  # fmt: skip
            attacker = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
        at_work.time_decisions()
        await trio.sleep(seconds)
        measured = tuple(at_work.latencies)
        rss = rss_kib()
        note = ""
        if attacker is not None:
            attacker.terminate()
            await attacker.wait()
            assert attacker.stdout is not None
            note = (await attacker.stdout.receive_some(4096)).decode().strip()
    return Outcome(measured, tuple(alarms), aborted[0], rss, note)


def _of_the_floor(kind: str) -> bool:
    """An alarm about the floor's own devices or storage (what a console flood must never cause)."""
    return kind.startswith(("device.", "storage."))


def run(stations: int = 8, seconds: float = 10.0, scale: float = 1.0, rounds: int = 3,
        attacks: Sequence[str] = tuple(ATTACKS)) -> list[dict[str, object]]:  # fmt: skip
    """Per attack, `rounds` rounds of: quiet, attacked with the console in the floor's process,
    attacked with it in its console process. A ratio is an attacked run's p99 over its round's quiet
    p99; the rows give the medians (on a shared machine one 10 s run drifts by tens of per cent)."""
    _limit_descriptors(SERVICE_DESCRIPTORS)
    rows: list[dict[str, object]] = []
    name = f"decision p99, {stations} stations"
    for attack in attacks:
        count = max(1, int(ATTACKS[attack] * scale))
        quiet: list[Outcome] = []
        loud: dict[bool, list[Outcome]] = {True: [], False: []}
        for _ in range(rounds):
            quiet.append(trio.run(measure, stations, seconds, None, 0))
            for in_process in (True, False):
                loud[in_process].append(trio.run(measure, stations, seconds, attack, count, in_process))
        bases = [percentile(q.latencies, 99) for q in quiet]
        quiet_note = (f"{rounds} runs of {seconds:g} s: {_listed(bases, ' ms')}; "
                      f"RSS {max(q.rss_kib for q in quiet) // 1024} MiB")  # fmt: skip
        rows.append({"name": f"{name}, quiet (before {attack})", "value": statistics.median(bases),
                     "unit": "ms", "note": quiet_note})  # fmt: skip
        for in_process in (True, False):
            runs = loud[in_process]
            p99s = [percentile(o.latencies, 99) for o in runs]
            ratios = [p / b if b else 0.0 for p, b in zip(p99s, bases, strict=True)]
            where = "console in the floor's process" if in_process else "console process (serve)"
            rss_mib = max(o.rss_kib for o in runs) // 1024
            note = (f"ratios {_listed(ratios, '', '×')}; device alarms {sum(len(o.alarms) for o in runs)}, "
                    f"aborted {sum(o.aborted for o in runs)}; RSS up to {rss_mib} MiB; "
                    f"attacker: {runs[-1].attack_note}")  # fmt: skip
            rows.append({"name": f"{name}, {count} {attack}, {where}", "value": statistics.median(p99s),
                         "unit": "ms", "ratio": statistics.median(ratios), "note": note})  # fmt: skip
    return rows


def _listed(values: Sequence[float], unit: str, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{v:.2f}{unit}" for v in values)


# The attacker's side (its own process: its work must not be counted as the floor's).


async def _attack(kind: str, count: int, port: int, token: str) -> None:
    import signal

    from trio_websocket import open_websocket_url

    from supervisor.console.protocol import Hello, encode

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    opened = refused = 0
    held: list[Any] = []

    async def idle() -> None:
        nonlocal opened, refused
        try:
            async with open_websocket_url(f"ws://127.0.0.1:{port}") as ws:
                await ws.send_message(encode(Hello(token)))
                opened += 1
                await trio.sleep_forever()
        except Exception:
            refused += 1

    async def half_open() -> None:
        nonlocal opened, refused
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            refused += 1
            return
        opened += 1
        held.append(stream)
        await stream.send_all(b"GET / HTTP/1.1\r\n")
        await trio.sleep_forever()

    async def slow_frame() -> None:
        nonlocal opened, refused
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            held.append(stream)
            await stream.send_all(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            opened += 1
            # A masked 1 MiB text frame header, then its body a slice at a time.
            await stream.send_all(b"\x81\xff" + (1 << 20).to_bytes(8, "big") + b"\x00\x00\x00\x00")
            for _ in range(1 << 20 >> 14):
                await stream.send_all(b"x" * (1 << 14))
                await trio.sleep(0.05)
        except (OSError, trio.BrokenResourceError):
            refused += 1
        await trio.sleep_forever()

    task = {"idle": idle, "half-open": half_open, "slow-frames": slow_frame}[kind]
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(task)
                await trio.lowlevel.checkpoint()
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
    print(f"{opened} opened, {refused} refused or dropped", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attack", help=argparse.SUPPRESS)  # the attacker's own process
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        trio.run(_attack, args.attack, args.count, args.port, args.token)
    else:
        for r in run(args.stations, args.seconds, args.scale, args.rounds):
            ratio = f" (×{r['ratio']:.2f})" if "ratio" in r else ""
            print(f"{r['name']}: {r['value']:.3f} {r['unit']}{ratio} ({r['note']})")
