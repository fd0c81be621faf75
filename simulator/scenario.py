"""The scenario file of `fillfloor sim` (docs/scenarios.md, "File format"), read strictly.

Unknown tables, keys or step kinds are errors, so a typo never passes silently; every error names
the file, the entry (e.g. `step[3] (do = "fault")`) and the problem (exit status 2 at the CLI).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from attrs import field, frozen

from domain.archive import CylinderArchive, Operator
from domain.rows import FieldError, archive_from_row, operator_from_row
from supervisor.tomlcheck import Table, TomlError, load_toml

__all__ = ["STATES", "Scenario", "ScenarioError", "SimStation", "Step", "load_scenario", "parse_scenario",
           "parse_step"]  # fmt: skip

ScenarioError = TomlError

STATES = (
    "idle", "verifying", "awaiting_precheck", "ready", "filling", "settling", "awaiting_postcheck",
    "done", "rejected", "paused", "fault", "out_of_service",
)  # fmt: skip
EVENT_TYPES = (
    "station.state", "scan", "interlock.refused", "check.recorded", "check.refused", "valve.command",
    "fill.completed",
    "fill.aborted", "alarm.raised", "alarm.cleared", "actor.health", "sim.valve", "sim.mass",
    "sync.batch", "sync.registry", "platform.stored", "platform.duplicate",
)  # fmt: skip
DEVICES = ("scale", "valve", "scanner")
FAULTS = ("disconnect", "freeze", "garbage", "stuck_open", "crash")
PLATFORM_MODES = ("up", "down", "error_5xx", "drop_response", "slow")
REGULATOR_ACTIONS = ("disable", "enable", "block", "unblock")


@frozen
class SimStation:
    id: str
    flow_kg_s: float
    valve_delay_ms: float
    scale_noise_g: float = 0.0
    cutoff: str = "indicator"
    protocol: str = "tcp"
    scanner: str = "serial"  # serial (a pty pair) | tcp (a network scanner the floor connects to)


@frozen
class Step:
    """One step of the script: `do` and its fields (validated per kind)."""

    index: int
    do: str
    station: str | None = None
    args: dict[str, Any] = field(factory=dict)


@frozen
class PlatformSpec:
    embedded: bool = True
    sync_interval_s: float = 0.5


@frozen
class Scenario:
    path: str
    today: dt.date
    unit_code: str
    short_name: str
    label_pattern: str | None
    cylinders: tuple[CylinderArchive, ...]
    operators: tuple[Operator, ...]
    stations: tuple[SimStation, ...]
    steps: tuple[Step, ...]
    platform: PlatformSpec | None = None


def load_scenario(path: Path) -> Scenario:
    return parse_scenario(load_toml(path), str(path))


def _step_label(i: int, item: dict[str, Any]) -> str:
    do = item.get("do")
    return f'step[{i}] (do = "{do}")' if isinstance(do, str) else f"step[{i}]"


def parse_scenario(doc: dict[str, Any], file: str) -> Scenario:
    top = Table(doc, file)
    today = top.date("today")
    unit_t = top.table("unit", required=True)
    assert unit_t is not None
    unit_code = unit_t.str("code", pattern=r"[A-Za-z0-9]{2,16}")
    short_name = unit_t.str("short_name", "")
    label_pattern = unit_t.regex("label_pattern", None, group="code")
    unit_t.done()

    cylinders: list[CylinderArchive] = []
    for t in top.tables("cylinder"):
        row = {k: t.raw(k) for k in t.names()}
        try:
            cylinders.append(archive_from_row(row))
        except FieldError as exc:
            raise t.error(exc.field, exc.problem) from None
    codes = [c.code for c in cylinders]
    if len(set(codes)) != len(codes):
        dup = next(c for c in codes if codes.count(c) > 1)
        raise TomlError(file, "cylinder", f"code {dup} appears twice")

    operators: list[Operator] = []
    for t in top.tables("operator"):
        try:
            operators.append(operator_from_row({k: t.raw(k) for k in t.names()}))
        except FieldError as exc:
            raise t.error(exc.field, exc.problem) from None

    stations: list[SimStation] = []
    for t in top.tables("station"):
        st = SimStation(
            id=t.str("id", pattern=r"[A-Za-z][A-Za-z0-9_-]{0,15}"),
            flow_kg_s=t.number("flow_kg_s", positive=True),
            valve_delay_ms=t.number("valve_delay_ms"),
            scale_noise_g=t.number("scale_noise_g", 0.0),
            cutoff=t.choice("cutoff", ("indicator", "host"), "indicator"),
            protocol=t.choice("protocol", ("tcp", "rtu"), "tcp"),
            scanner=t.choice("scanner", ("serial", "tcp"), "serial"),
        )
        if st.valve_delay_ms < 0 or st.scale_noise_g < 0:
            raise t.error("valve_delay_ms" if st.valve_delay_ms < 0 else "scale_noise_g", "must be ≥ 0")
        if st.id in {s.id for s in stations}:
            raise t.error("id", f"station {st.id} is defined twice")
        stations.append(st)
        t.done()
    if not stations:
        raise TomlError(file, "station", "at least one [[station]] is required")

    platform = None
    pt = top.table("platform")
    if pt is not None:
        platform = PlatformSpec(
            embedded=pt.bool("embedded", True),
            sync_interval_s=pt.number("sync_interval_s", 0.5, positive=True),
        )
        if not platform.embedded:
            raise pt.error("embedded", "a scenario runs the embedded platform only: embedded = true")
        pt.done()

    context = _Context({s.id for s in stations}, {o.id for o in operators}, platform is not None, unit_code,
                       {c.code for c in cylinders})  # fmt: skip
    steps = tuple(_step(i, t, context) for i, t in enumerate(top.tables("step", _step_label)))
    top.done()
    return Scenario(
        file, today, unit_code, short_name, label_pattern, tuple(cylinders), tuple(operators),
        tuple(stations), steps, platform,
    )  # fmt: skip


@frozen
class _Context:
    stations: set[str]
    operators: set[str]
    has_platform: bool
    unit_code: str
    cylinders: set[str]  # the registry's codes: the platform knows these (and only these)


def _station(t: Table, ctx: _Context) -> str:
    sid = t.str("station")
    if sid not in ctx.stations:
        raise t.error("station", f"no [[station]] with id {sid!r}")
    return sid


def _platform_step(t: Table, do: str, ctx: _Context) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if do == "platform":
        args["mode"] = t.choice("mode", PLATFORM_MODES)
        args["seconds"] = t.number("seconds", 0.0)
    elif do == "inspect":
        args["cylinder"] = t.str("cylinder")
        if args["cylinder"] not in ctx.cylinders:
            raise t.error("cylinder", f"no [[cylinder]] {args['cylinder']!r}: the platform inspects "
                          "registered cylinders only")  # fmt: skip
        args["next_inspection"] = t.date("next_inspection")
        args["result"] = t.choice("result", ("pass", "fail"))
        args["agency"] = t.str("agency", "")
    elif do == "regulator":
        action = args["action"] = t.choice("action", REGULATOR_ACTIONS)
        target = args["target"] = t.str("target")
        if action in ("disable", "enable") and target not in {ctx.unit_code, *ctx.stations}:
            raise t.error("target", f"{action} acts on the unit ({ctx.unit_code}) or a station id, "
                          f"got {target!r}")  # fmt: skip
        if action in ("block", "unblock") and target not in ctx.cylinders:
            raise t.error("target", f"{action} acts on a [[cylinder]] code, got {target!r}")
    else:
        args["timeout_s"] = t.number("timeout_s", positive=True)
    return args


def _step(index: int, t: Table, ctx: _Context) -> Step:
    do = t.str("do")
    station: str | None = None
    args: dict[str, Any] = {}
    if do in ("login", "logout"):
        station = _station(t, ctx)
        # An operator missing from [[operator]] is allowed: an unknown badge tests the interlock.
        args["operator"] = t.str("operator")
    elif do == "place":
        station = _station(t, ctx)
        args["cylinder"] = t.str("cylinder")
        args["gross_kg"] = t.decimal("gross_kg")
    elif do == "scan":
        station = _station(t, ctx)
        args["text"] = t.str("text")
    elif do in ("precheck", "postcheck"):
        station = _station(t, ctx)
        args["cylinder"] = t.str("cylinder")
        args["result"] = t.choice("result", ("pass", "fail"))
        args["checker"] = t.str("checker", "CK01")
        # The items a person named, as written (an answer is text: `true` would say nothing); the
        # runner answers the others from the result (`domain.checks.answered_in_full`).
        items = t.table("items")
        args["items"] = {} if items is None else {k: items.str(k) for k in items.names()}
    elif do == "wait":
        station = _station(t, ctx)
        what = t.str("for")
        if what.startswith("state:"):
            if what[6:] not in STATES:
                raise t.error("for", f"unknown state {what[6:]!r} (known: {', '.join(STATES)})")
        elif what not in EVENT_TYPES:
            raise t.error("for", f"unknown event type {what!r}")
        args["for"] = what
        args["timeout_s"] = t.number("timeout_s", positive=True)
    elif do == "sleep":
        args["seconds"] = t.number("seconds")
        if args["seconds"] < 0:
            raise t.error("seconds", "must be ≥ 0")
    elif do == "remove":
        station = _station(t, ctx)
    elif do == "fault":
        station = _station(t, ctx)
        args["device"] = t.choice("device", DEVICES)
        args["kind"] = t.choice("kind", FAULTS)
        if args["kind"] == "stuck_open" and args["device"] != "valve":
            raise t.error("kind", f"stuck_open applies to a valve, not a {args['device']}")
        args["seconds"] = t.number("seconds", positive=True)
    elif do in ("pause", "resume"):
        station = _station(t, ctx)
    elif do == "restart":
        actor = t.str("actor")
        sid, _, part = actor.partition(".")
        if sid not in ctx.stations or part not in ("", *DEVICES, "coordinator"):
            raise t.error(
                "actor", f"must be a station id or STATION.scale/valve/scanner/coordinator, got {actor!r}"
            )
        station = sid
        args["actor"] = actor
    elif do in ("platform", "inspect", "regulator", "wait_sync"):
        if not ctx.has_platform:
            raise t.error("do", f"{do} needs a [platform] table")
        args.update(_platform_step(t, do, ctx))
    else:
        raise t.error(
            "do",
            f"unknown step kind {do!r} (known: login, logout, place, scan, precheck, postcheck, wait, "
            "sleep, remove, fault, pause, resume, restart, platform, inspect, regulator, wait_sync)",
        )
    t.done()
    return Step(index, do, station, args)


def parse_step(index: int, t: Table, stations: set[str]) -> Step:
    """One step outside a scenario file (`fillfloor simulate-devices` reads them from stdin), with the
    same checks; there are no platform steps there."""
    return _step(index, t, _Context(stations, set(), False, "", set()))
