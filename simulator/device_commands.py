"""The line commands of `fillfloor simulate-devices`: people and devices acting at the simulated floor.

One command a line on stdin (docs/devices.md, "Commissioning with simulated devices"). The device
steps of a scenario (docs/scenarios.md) as words: a line is turned into the step's table and checked by
the scenario's own step parser, so a line and a `[[step]]` mean the same and are refused for the
same reasons. Checks, pauses and restarts are not here: they are the floor's (its console), not a
device's.
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from attrs import frozen

from simulator.config_devices import ConfigDevices
from simulator.faults import Fault
from simulator.scanner_sim import TcpScanner
from simulator.scenario import Step, parse_step
from supervisor.tomlcheck import Table, TomlError

__all__ = ["HELP", "CommandError", "Meta", "carry_out", "parse_line", "status_lines"]

# Each step command: its fields in order; the last of `scan` takes the rest of the line.
_FIELDS: dict[str, tuple[str, ...]] = {
    "place": ("station", "cylinder", "gross_kg"),
    "remove": ("station",),
    "scan": ("station", "text"),
    "login": ("station", "operator"),
    "logout": ("station", "operator"),
    "fault": ("station", "device", "kind", "seconds"),
    "sleep": ("seconds",),
}
_NUMBERS = frozenset({"gross_kg", "seconds"})
_META = ("help", "status", "quit")

HELP = """\
commands (one a line):
  place STATION CYLINDER GROSS_KG    a cylinder weighing GROSS_KG is put on the scale
  remove STATION                     the cylinder is lifted off the scale
  scan STATION TEXT                  the scanner reads TEXT (the rest of the line, as is)
  login STATION OPERATOR             the operator's badge is scanned (logout: the same again)
  fault STATION DEVICE KIND SECONDS  DEVICE scale/valve/scanner, KIND disconnect/freeze/garbage/stuck_open
  sleep SECONDS                      wait before the next line (for scripts piped in)
  status                             each station: the scale's load, the valve, the faults
  help                               this list
  quit                               stop (as Ctrl-C does)
e.g.  place S1 HY00120000123 21.4 / scan S1 HY00120000123 / fault S1 scale disconnect 5"""


class CommandError(Exception):
    """A line that is not a valid command: the message says which line and what is wrong."""


@frozen
class Meta:
    """A command about the simulator itself: help, status or quit."""

    name: str


def _usage(do: str) -> str:
    words = " ".join(f.upper() for f in _FIELDS[do])
    return f"{do} takes {words}" if words else do


def parse_line(line: str, lineno: int, stations: set[str]) -> Step | Meta | None:
    """The command on `line` (None for a blank line or a # comment); CommandError if it is not one."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    do = words[0].lower()
    if do in _META:
        if len(words) > 1:
            raise CommandError(f"line {lineno}: {do} takes nothing after it")
        return Meta(do)
    fields = _FIELDS.get(do)
    if fields is None:
        known = ", ".join([*_FIELDS, *_META])
        raise CommandError(f"line {lineno}: unknown command {words[0]!r} (known: {known}; help lists them)")
    if do == "scan":
        # The label's text is the rest of the line after one separator, spaces and all.
        parts = line.strip("\r\n").split(maxsplit=2)
        words = parts if len(parts) == 3 else words
    if len(words) - 1 != len(fields):
        raise CommandError(f"line {lineno}: {_usage(do)} (help lists the commands)")
    table: dict[str, object] = {"do": do}
    for name, word in zip(fields, words[1:], strict=True):
        table[name] = _number(word) if name in _NUMBERS else word
    if do == "fault" and table["kind"] == "crash":
        raise CommandError(f"line {lineno}: crash makes the floor's device actor raise, which only "
                           "`fillfloor sim` can do (here: disconnect, freeze, garbage)")  # fmt: skip
    try:
        return parse_step(lineno, Table(table, f"line {lineno} ({do})"), stations)
    except TomlError as exc:
        raise CommandError(str(exc)) from None


def _number(word: str) -> object:
    """A number if it reads as one; else the word, which the step parser then refuses by name."""
    try:
        return float(word)
    except ValueError:
        return word


async def carry_out(
    step: Step, devices: ConfigDevices, nursery: trio.Nursery, say: Callable[[str], None]
) -> None:
    """Do what the step says at the devices; a fault runs on for its seconds in `nursery`."""
    a = step.args
    station = step.station or ""
    match step.do:
        case "login" | "logout" | "scan":
            text = a["text"] if step.do == "scan" else a["operator"]
            scanner = devices.scanners[station]
            if isinstance(scanner, TcpScanner) and not scanner.clients:
                say(f"{station}: no floor is connected to the scanner: the scan goes nowhere")
            await scanner.send_text(text)
        case "place":
            devices.place(station, a["cylinder"], float(a["gross_kg"]))
        case "remove":
            devices.remove(station)
        case "fault":
            # On the station's board in every case (the status shows it); a scanner acts it out itself.
            devices.host.stations[station].faults.inject(Fault(a["device"], a["kind"], a["seconds"]))
            if a["device"] == "scanner":
                nursery.start_soon(devices.scanners[station].fault, a["kind"], a["seconds"])
        case "sleep":
            await trio.sleep(a["seconds"])
    if step.do != "sleep":
        say(" ".join(["ok:", step.do, station, *(str(v) for v in a.values())]))


def status_lines(devices: ConfigDevices) -> list[str]:
    """One line a station. Read across threads without a lock: each value is one attribute of the
    physics, written whole by the simulator's thread, and this is a display, not a decision."""
    lines = []
    for sid in devices.station_ids:
        st = devices.physics(sid)
        load = f"{st.cylinder} {st.mass_kg:.3f} kg" if st.cylinder else "empty"
        valve = "open" if st.valve_open else "closed"
        permit = "granted" if st.valve_view().permit else "off"
        faults = devices.host.stations[sid].faults
        active = [f"{d} {k}" for d in ("scale", "valve", "scanner") for k in sorted(faults.kinds(d))]
        faults_text = ", ".join(active) or "none"
        lines.append(f"{sid}: scale {load}; valve {valve} (permit {permit}); faults: {faults_text}")
    return lines
