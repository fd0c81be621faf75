"""`fillfloor simulate-devices --config fillfloor.toml` (its command line: `fillfloor.commands.
simulate_devices`): simulators in place of a floor's devices.

For commissioning before the hardware arrives: every scale, valve and scanner of the config is
simulated at the config's own address (`simulator.config_devices`), so that `fillfloor serve
--config` in another terminal runs on them as on the real devices. People and devices act by line
commands on stdin (`simulator.device_commands`; `help` lists them). Exit status 2 for a bad config
(the messages of `fillfloor config check`) or an address that cannot be served (the device and the
address named); SIGINT/SIGTERM (or `quit`) stop it and remove every link it made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncGenerator
from typing import TextIO

import trio

from simulator.config_devices import ConfigDevices, ListingRow, PhysicsSettings, open_config_devices
from simulator.device_commands import HELP, CommandError, Meta, carry_out, parse_line, status_lines
from simulator.ground_truth import GroundTruthEvent, SimMass, SimValve, TrioGroundTruth
from supervisor.config import FloorConfig, load_config
from supervisor.errors import BadInput

__all__ = ["run"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # a bad config raises BadInput: exit 2
    try:
        physics = PhysicsSettings(args.flow_kg_s, args.valve_delay_ms, args.noise_g)
    except ValueError as exc:
        raise BadInput(f"simulate-devices: {exc}") from None
    try:
        events = args.events.open("a", encoding="utf-8") if args.events else None
    except OSError as exc:
        raise BadInput(f"simulate-devices: --events: {exc}") from None
    try:
        signum = trio.run(_simulate, config, physics, _Printer(events))
    except BaseExceptionGroup as group:
        # trio's nurseries wrap what passes through them: a BadInput alone is still the user's to fix.
        bad = group.subgroup(BadInput)
        if bad is not None and group.split(BadInput)[1] is None:
            raise _first(bad) from None
        raise
    finally:
        if events is not None:
            events.close()
    print(f"fillfloor: simulated devices stopped (signal {signum})" if signum else
          "fillfloor: simulated devices stopped", file=sys.stderr)  # fmt: skip
    return 0


def _first(group: BaseExceptionGroup[BadInput]) -> BadInput:
    first = group.exceptions[0]
    return first if isinstance(first, BadInput) else _first(first)


class _Printer:
    """Lines to stdout (and the events file) from one task, written off the loop: a slow terminal,
    a full pipe or a slow disk never stalls the scanners or the commands."""

    def __init__(self, events: TextIO | None = None) -> None:
        self._send, self._receive = trio.open_memory_channel[tuple[str, TextIO | None]](float("inf"))
        self._events = events

    def say(self, line: str) -> None:
        self._send.send_nowait((line, sys.stdout))

    def error(self, line: str) -> None:
        """To stderr, as `fillfloor: ...`."""
        self._send.send_nowait((f"fillfloor: {line}", sys.stderr))

    def record(self, event: GroundTruthEvent) -> None:
        """To the events file, if any, stamped with the wall time it is seen at (here, not later)."""
        if self._events is not None:
            line = json.dumps({"wall": time.time(), "t": event.t, "type": event.event_type, **event.fields()})
            self._send.send_nowait((line, self._events))

    async def run(self) -> None:
        async for line, stream in self._receive:
            if stream is not None:
                await trio.to_thread.run_sync(_write, line, stream)


def _write(line: str, stream: TextIO) -> None:
    stream.write(line + "\n")
    stream.flush()


def _table(rows: list[ListingRow]) -> list[str]:
    header = ListingRow("station", "device", "protocol", "address", "unit")
    cells = [(r.station, r.device, r.protocol, r.unit, r.where) for r in [header, *rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    return ["  ".join([*(c[i].ljust(widths[i]) for i in range(4)), c[4]]).rstrip() for c in cells]


async def _simulate(config: FloorConfig, physics: PhysicsSettings, printer: _Printer) -> int | None:
    received: int | None = None
    with trio.open_signal_receiver(*SIGNALS) as signals:
        truth = TrioGroundTruth()
        async with open_config_devices(config, physics, truth) as devices, trio.open_nursery() as nursery:
            nursery.start_soon(printer.run)
            for line in _table(list(devices.listing())):
                printer.say(line)
            printer.say(f"fillfloor: simulated devices ready for {len(config.stations)} station(s); "
                        "commands on stdin (help), Ctrl-C stops")  # fmt: skip
            nursery.start_soon(_report, truth, printer)
            nursery.start_soon(_commands, devices, printer, nursery.cancel_scope)
            async for signum in signals:
                received = signum
                break
            nursery.cancel_scope.cancel()
    return received


async def _report(truth: TrioGroundTruth, printer: _Printer) -> None:
    """The ground truth as it happens: what the valves and the cylinders really did."""
    async for event in truth.receive:
        printer.record(event)
        if isinstance(event, SimValve):
            printer.say(f"{event.station}: valve {'opened' if event.open else 'closed'}")
        elif isinstance(event, SimMass) and event.cylinder is not None:
            printer.say(f"{event.station}: {event.cylinder} weighs {event.gross_kg:.3f} kg after the close")


async def _stdin_lines() -> AsyncGenerator[bytes, None]:
    """Lines of stdin, the last one also without its newline. Read from the fd in a worker thread
    (a read of stdin blocks), abandoned when cancelled: the thread is a daemon. Not through
    `sys.stdin`, whose buffer lock a thread blocked in it would hold at exit (Python then aborts)."""
    pending = b""
    while True:
        chunk = await trio.to_thread.run_sync(os.read, 0, 4096, abandon_on_cancel=True)
        if not chunk:
            if pending:
                yield pending
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line


async def _commands(devices: ConfigDevices, printer: _Printer, stop: trio.CancelScope) -> None:
    stations = set(devices.station_ids)
    async with trio.open_nursery() as faults, contextlib.aclosing(_stdin_lines()) as lines:
        # (faults that last a while run in their own nursery)
        lineno = 0
        async for raw in lines:
            lineno += 1
            try:
                command = parse_line(raw.decode("utf-8", "replace"), lineno, stations)
            except CommandError as exc:
                printer.error(str(exc))
                continue
            if isinstance(command, Meta):
                if command.name == "quit":
                    stop.cancel()
                    return
                for line in HELP.splitlines() if command.name == "help" else status_lines(devices):
                    printer.say(line)
            elif command is not None:
                try:
                    await carry_out(command, devices, faults, printer.say)
                except Exception as exc:  # a command that fails must not end the session; say why
                    printer.error(f"line {lineno}: {type(exc).__name__}: {exc}")
        printer.say("fillfloor: end of the commands (stdin closed); the devices run on until Ctrl-C")
        await trio.sleep_forever()
