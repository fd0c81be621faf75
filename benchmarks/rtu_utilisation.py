"""RTU bus utilisation: the reads per second `RtuBus` gets from one RS-485 line, against the line's limit.

    python -m benchmarks.rtu_utilisation [--devices 1,8] [--bauds 19200,115200] [--seconds 10]

The line's theoretical read rate for a read of K registers at B baud, 11 bits a character (8N1 with
the stop bit, or 8E1 as the spec's default): request 8 bytes + reply 5 + 2K bytes, and two silent
intervals of 3.5 characters (1.75 ms fixed above 19,200 baud) — one before the device may take the
request as complete, one before the host may send again. The device's own turnaround is not in it
(a real indicator adds 5–60 ms; the simulator, well under a millisecond).

Measured: N real `ScaleActor`s (16 registers a poll, the block of docs/devices.md) share one
`actors.link.RtuBus`, each asking as fast as the bus lets it (poll rate 1 kHz), so the line is
never idle for want of a request; reads/s counted over the window. The device side is pymodbus's
RTU serial server holding N indicators (unit ids 1..N), in its own process
(`benchmarks.sim_process`), on a pty pair joined to the floor's pty pair by a relay:
- `paced`: the relay emulates the wire: a frame takes its characters' time on the line (one line,
  half duplex), and a request reaches the device only after the 3.5-character silence that ends it.
  This is what the ≥ 90 % goal is judged on.
- `unpaced`: a pty moves bytes at memory speed, whatever baud rate is set: this shows the
  software's own cost per read, not the line's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import threading
import time
import tty
from collections.abc import Sequence
from multiprocessing.connection import Connection

import trio
from attrs import frozen
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer

from actors.config import DeviceConfig
from actors.device_link import Teller
from actors.link import RtuBus
from actors.scale import ScaleActor
from benchmarks.sim_process import SimProcess, cpu_s, serve_control
from domain.messages import StationInput, WeightSample
from simulator.modbus_devices import _scale_device

__all__ = ["NOTES", "Result", "measure", "run", "theoretical_reads_s"]

NOTES = """\
How: `python -m benchmarks.rtu_utilisation --devices 1,8 --bauds 19200,115200 --seconds 10`. The
ratio column is measured over theoretical reads/s (16 registers: 45 characters of 11 bits and two
3.5-character gaps = 33.6 reads/s at 19,200 baud, 128.3 at 115,200). The goal is ≥ ×0.90 on the
paced line. The relay also times each side's turnaround (printed by the command): the simulated
device's (request in → reply out) and the host's (reply in → next request out, which must hold
the 3.5-character gap, 2.0 ms at 19,200 and 1.75 ms above).

What the paced line shows: trio waits in `epoll_wait`, whose timeout is whole milliseconds
(CPython rounds up), so a 1.75 ms `trio.sleep` takes ~2.1 ms here (a 0.5 ms one, ~1.1 ms): 10 % of
a read at 115,200 baud (~7.8 ms on the wire). So above 19,200 baud `RtuBus` sleeps all but the
gap's last millisecond and waits that out on the loop, yielding at every turn (at most 1 ms of a
core a read, and only while requests queue for the line); it also frames the request before the
gap and times the gap from when the reply's last bytes were read. On 2026-12-02, with the bus and
the simulated line pinned to one shared core, that took 115,200 baud from ×0.56–0.68 to ×0.83–0.84
(the host's turnaround from 3.6–4.1 ms to 2.2 ms against its 1.75 ms gap). What is left of the
host's turnaround is the exchange itself (lock, parse, the actor's loop) and the relay's own
wake-ups, and the simulated device takes ~0.6 ms to answer. At 19,200 baud (a read is ~30 ms) the
bus simply sleeps: the timer's excess (~1 ms, 3-4 % of a read) leaves it at ×0.89–0.92 on this
machine on 2026-12-02 (×0.94–0.96 on 2026-11-25; the code from before the change measured the
same ×0.90–0.91 that day, so the machine moved, not the bus). Spinning there too was not done: the
simulated floors' RTU lines run at 19,200 and would spend a core's share on every busy line.
What it does not show: a real line's device turnaround (5–60 ms for weighing indicators, far
above the software's), a USB–RS-485 adapter's latency (FTDI's default latency timer is 16 ms),
and line errors. The unpaced rows (a pty at memory speed) show the software alone: ~350 reads/s
on one line, 10× what 19,200 baud carries and ~2.7× 115,200, at ~13 % of a core each side.
"""

REGISTERS = 16  # the scale actor's one read a poll: gross, status, ..., fill state
BITS_PER_CHAR = 11
GOAL = 0.90


def theoretical_reads_s(baudrate: int, registers: int = REGISTERS) -> float:
    """Reads/s a line carries at most: request and reply on the wire, and two 3.5-character gaps."""
    chars = 8 + 5 + 2 * registers
    gap_s = RtuBus("", baudrate).gap_s  # the bus's own rule: 3.5 characters, 1.75 ms above 19,200 baud
    return 1.0 / (chars * BITS_PER_CHAR / baudrate + 2 * gap_s)


# ----------------------------------------------------------------------------- the device side
class _Line:
    """The wire both directions share (RS-485 is half duplex): when it is free again, and how long
    each side took to answer what it was handed (the device: a reply; the host: its next request)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free_at = 0.0
        self.handed: dict[bool, float | None] = {True: None, False: None}  # to the device? → when
        self.turnaround: dict[bool, list[float]] = {True: [0, 0.0], False: [0, 0.0]}  # count, sum

    def stats(self) -> tuple[int, float, int, float]:
        """(replies, their turnaround s, requests, the host's turnaround s), counted from the start."""
        with self.lock:
            (nd, sd), (nh, sh) = self.turnaround[True], self.turnaround[False]
            return int(nd), sd, int(nh), sh


def _pump(
    src: int, dst: int, to_device: bool, line: _Line, char_s: float, settle_s: float, stop: threading.Event
) -> None:
    """Copy bytes src → dst, each chunk delivered when its last character has crossed the line
    (+ `settle_s`: the silence a receiver waits for before it takes a frame as complete)."""
    while not stop.is_set():
        if not select.select([src], [], [], 0.1)[0]:
            continue
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:  # EIO: nobody holds the slave side open right now
            time.sleep(0.01)
            continue
        with line.lock:  # the other side's turnaround: from what it was handed to what it sends
            handed, line.handed[not to_device] = line.handed[not to_device], None
            if handed is not None:
                line.turnaround[not to_device][0] += 1
                line.turnaround[not to_device][1] += time.perf_counter() - handed
        if char_s:
            with line.lock:
                line.free_at = max(time.perf_counter(), line.free_at) + len(data) * char_s
                due = line.free_at + settle_s
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view) :]
        with line.lock:
            line.handed[to_device] = time.perf_counter()


def _serve_line(control: Connection, units: int, baudrate: int, paced: bool) -> None:
    """Child process: `units` simulated indicators on one RTU line, reached through a pty relay."""
    floor_master, floor_slave = os.openpty()
    dev_master, dev_slave = os.openpty()
    fds = [floor_master, floor_slave, dev_master, dev_slave]
    for fd in fds:
        tty.setraw(fd)  # no echo, no line discipline: Modbus RTU is binary
    started, stop = threading.Event(), threading.Event()
    holder: dict[str, object] = {}

    async def main() -> None:
        server = ModbusSerialServer(
            [_scale_device(u) for u in range(1, units + 1)],
            framer=FramerType.RTU,
            port=os.ttyname(dev_slave),
            baudrate=baudrate,
        )
        await server.serve_forever(background=True)
        for u in range(1, units + 1):
            await server.async_setValues(u, 3, 0, [0, 15500, 1])  # 15.5 kg, stable
        holder["loop"], holder["done"] = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        done = holder["done"]
        assert isinstance(done, asyncio.Event)
        await done.wait()
        await server.shutdown()

    server_thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    server_thread.start()
    line = _Line()
    char_s = BITS_PER_CHAR / baudrate if paced else 0.0
    gap_s = RtuBus("", baudrate).gap_s if paced else 0.0
    pumps = [
        threading.Thread(target=_pump, args=(floor_master, dev_master, True, line, char_s, gap_s, stop)),
        threading.Thread(target=_pump, args=(dev_master, floor_master, False, line, char_s, 0.0, stop)),
    ]
    for p in pumps:
        p.start()
    if not started.wait(30):
        raise TimeoutError("the RTU server did not start")
    try:
        serve_control(control, os.ttyname(floor_slave), line.stats)
    finally:
        stop.set()
        loop, done = holder["loop"], holder["done"]
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert isinstance(done, asyncio.Event)
        loop.call_soon_threadsafe(done.set)
        server_thread.join(10)
        for p in pumps:
            p.join(1)
        for fd in fds:
            os.close(fd)


# ---------------------------------------------------------------------------- the supervisor side
@frozen
class Result:
    devices: int
    baudrate: int
    paced: bool
    reads_s: float
    theoretical_s: float
    errors: int
    cpu_pct: float
    sim_cpu_pct: float
    device_ms: float  # mean: request handed to the simulated device → its reply starts
    host_ms: float  # mean: reply handed to the host → its next request starts (the gap is in it)

    @property
    def utilisation(self) -> float:
        return self.reads_s / self.theoretical_s

    @property
    def gap_ms(self) -> float:
        return RtuBus("", self.baudrate).gap_s * 1000


async def _saturate(
    port: str, baudrate: int, units: int, sim: SimProcess, seconds: float, paced: bool
) -> Result:
    bus = RtuBus(port, baudrate)
    starts: list[float] = []

    def record(msg: StationInput) -> None:
        if isinstance(msg, WeightSample):
            starts.append(msg.at)

    def config(unit: int) -> DeviceConfig:
        # 1 kHz: every actor wants the line again as soon as its read is done.
        return DeviceConfig(protocol="rtu", serial_port=port, baudrate=baudrate, unit_id=unit, poll_hz=1000.0,
                            timeout_s=1.0)  # fmt: skip

    actors = [ScaleActor(config(u), bus, Teller(record)) for u in range(1, units + 1)]
    async with trio.open_nursery() as nursery:
        for actor in actors:
            nursery.start_soon(actor.run)
        await trio.sleep(1.0)
        t0, cpu0, sim0 = trio.current_time(), cpu_s(), await trio.to_thread.run_sync(sim.cpu_s)
        line0 = await trio.to_thread.run_sync(sim.ask, "stats")
        await trio.sleep(seconds)
        t1, cpu1, sim1 = trio.current_time(), cpu_s(), await trio.to_thread.run_sync(sim.cpu_s)
        line1 = await trio.to_thread.run_sync(sim.ask, "stats")
        nursery.cancel_scope.cancel()
    wall = t1 - t0
    nd, sd, nh, sh = (b - a for a, b in zip(line0, line1, strict=True))
    return Result(
        devices=units,
        baudrate=baudrate,
        paced=paced,
        reads_s=sum(1 for t in starts if t0 <= t < t1) / wall,
        theoretical_s=theoretical_reads_s(baudrate),
        errors=sum(sum(a.health.errors.values()) for a in actors),
        cpu_pct=(cpu1 - cpu0) / wall * 100,
        sim_cpu_pct=(sim1 - sim0) / wall * 100,
        device_ms=sd / nd * 1000 if nd else float("nan"),
        host_ms=sh / nh * 1000 if nh else float("nan"),
    )


def measure(devices: int, baudrate: int, *, paced: bool = True, seconds: float = 10.0) -> Result:
    with SimProcess(_serve_line, devices, baudrate, paced) as sim:
        return trio.run(_saturate, sim.info, baudrate, devices, sim, seconds, paced)


def describe(r: Result) -> str:
    verdict = ("pass" if r.utilisation >= GOAL else "BELOW 90 %") if r.paced else "pty, not a wire"
    return (
        f"{r.baudrate:6d} baud, {r.devices:2d} device(s), {'paced' if r.paced else 'unpaced'}: "
        f"{r.reads_s:7.1f} reads/s of {r.theoretical_s:.1f} theoretical (×{r.utilisation:.2f}), "
        f"per read: device {r.device_ms:.2f} ms, host {r.host_ms:.2f} ms (gap {r.gap_ms:.2f}); "
        f"{r.errors} errors, CPU: supervisor {r.cpu_pct:.0f} %, simulator {r.sim_cpu_pct:.0f} % — {verdict}"
    )


def run(
    devices: Sequence[int] = (1, 8), bauds: Sequence[int] = (19200, 115200), seconds: float = 10.0
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for baud in bauds:
        for paced in (True, False):
            for n in devices:
                r = measure(n, baud, paced=paced, seconds=seconds)
                print(describe(r), flush=True)
                how = "paced as the wire" if paced else "unpaced pty"
                note = f"theoretical {r.theoretical_s:.1f} reads/s; {r.errors} errors; CPU: supervisor " \
                       f"{r.cpu_pct:.0f} %, simulator {r.sim_cpu_pct:.0f} %"  # fmt: skip
                name = f"RTU {baud} baud, {n} device(s) on the line, {how}: reads of 16 registers"
                rows.append({"name": name, "value": r.reads_s, "unit": "reads/s", "ratio": r.utilisation,
                             "note": note})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", default="1,8")
    parser.add_argument("--bauds", default="19200,115200")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--unpaced", action="store_true", help="only the unpaced pty")
    parser.add_argument("--paced", action="store_true", help="only the paced line")
    args = parser.parse_args()
    modes = [m for m, on in ((True, not args.unpaced), (False, not args.paced)) if on]
    for baud in (int(b) for b in args.bauds.split(",")):
        for paced in modes:
            for n in (int(d) for d in args.devices.split(",")):
                print(describe(measure(n, baud, paced=paced, seconds=args.seconds)), flush=True)


if __name__ == "__main__":
    main()
