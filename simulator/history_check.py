"""Judging a `fillfloor sim` run after the fact: pure rules over its events and its scenario.

The fault matrix's invariants (issue #9; docs/fault-matrix.md), each a function from the scenario
and the event list to the violations it finds, each violation naming the rule, the station, the
fault case there (or `control`) and the event:

- `interlock`: the valve's ground truth (`sim.valve open=true`) only for an open order given while
  the interlock held at that station, derived from the events alone: station in filling with the
  cylinder, an operator with a valid certificate logged in (badge scans), that cylinder's label
  scanned there and not refused since, its archive eligible, a passing pre-fill check within the
  window, nobody else filling it.
- `max_fill`: no `sim.mass` above tare + the model's maximum fill (docs/domain.md) + reading noise,
  except at a valve stuck open, which is `stuck_open`'s: a critical `valve.stuck_open` alarm and
  the station in fault or out of service.
- `frozen_scale`: a scale frozen during a fill ends it at once (`fill.reading_not_credible`, or the
  model's cut-off when the samples were late as well), its valve's ground truth closed within
  `FROZEN_CLOSE_S`, unless the cut-off came first.
- `record`: every fill has a record id, once; with a platform and a final `wait_sync`, the
  platform stored each fill record exactly once (resends answered `duplicate` are fine).
- `end_state`: a faulted station ends idle/done, or out of service with an alarm standing.
- `recovery`: a faulted station that the script fills again after its fault completes a fill.
- `unaffected`: nothing abnormal at a station (alarm, abort, fault, device refusal) before its own
  fault, and never at a station without one; those complete every fill the script waits for.
- `script`: the script ran to its end, no wait timed out.

Run as `python -m simulator.history_check SCENARIO.toml EVENTS.jsonl`: prints the cases and the
violations, exit status 1 when there are any.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from attrs import field, frozen

from domain.eligibility import eligibility_reasons
from domain.events import (
    AlarmCleared,
    AlarmRaised,
    CheckRecorded,
    FillAborted,
    FillCompleted,
    InterlockRefused,
    Scan,
    StationState,
    ValveCommand,
)
from domain.operators import operator_reasons
from domain.settings import DomainSettings
from simulator.event_log import Event, of, read_events
from simulator.scenario import Scenario, load_scenario

__all__ = ["FaultCase", "Violation", "check", "fault_cases", "main"]

NOISE_KG = Decimal("0.02")  # the simulated scale's noise (5 g) and rounding, as in test_sim_e2e
# A close order reaches the valve over Modbus after it is given: a valve already moving open then
# (its actuation delay is 150 ms) may still open. Past this, an opening after a close is not that.
IN_FLIGHT_S = 0.5
STUCK_ALARM_S = 2.0  # the feedback timeout (1 s) and a poll or two: how soon a stuck valve is seen
# A frozen reading is seen on the first poll that repeats it (a few more with a noisy, slow fill),
# then the valve's 150 ms: well under a second even on a loaded machine; the no-flow window is 5 s.
FROZEN_CLOSE_S = 1.5
_FILL_WAITS = (FillCompleted.TYPE, "state:awaiting_postcheck", "state:done")
_ABNORMAL_STATES = ("fault", "out_of_service")
_DEVICE_REASONS = ("device.", "station.fault", "station.out_of_service")


@frozen
class FaultCase:
    """A fault step as it happened: the station's state when it was injected is its phase."""

    station: str
    device: str
    kind: str
    step: int
    phase: str
    injected_at: float
    seconds: float

    @property
    def ends_at(self) -> float:
        return self.injected_at + self.seconds

    @property
    def name(self) -> str:
        return f"{self.device}.{self.kind}@{self.phase}"


@frozen
class Violation:
    rule: str
    station: str | None
    case: str
    detail: str
    event: Event | None = field(default=None, eq=False, hash=False)

    def __str__(self) -> str:
        where = f" {self.station} ({self.case})" if self.station else ""
        event = f"\n    event: {json.dumps(self.event, ensure_ascii=False)}" if self.event else ""
        return f"[{self.rule}]{where}: {self.detail}{event}"


def _step_times(events: list[Event]) -> dict[int, float]:
    return {e["index"]: e["ts"] for e in of(events, "scenario.step")}


def fault_cases(scenario: Scenario, events: list[Event]) -> list[FaultCase]:
    """The fault steps that ran, each with the state its station was in at that moment."""
    started = _step_times(events)
    cases = []
    for step in scenario.steps:
        if step.do != "fault" or step.index not in started or step.station is None:
            continue
        at = started[step.index]
        states = [e for e in of(events, StationState.TYPE, step.station) if e["ts"] <= at]
        phase = states[-1]["state"] if states else "idle"
        cases.append(FaultCase(step.station, step.args["device"], step.args["kind"], step.index, phase, at,
                               float(step.args["seconds"])))  # fmt: skip
    return cases


class _Judge:
    """The facts shared by the rules: cases by station, and each violation's case name."""

    def __init__(self, scenario: Scenario, events: list[Event]) -> None:
        self.scenario = scenario
        self.events = events
        self.cases = fault_cases(scenario, events)
        self.by_station: dict[str, list[FaultCase]] = defaultdict(list)
        for case in self.cases:
            self.by_station[case.station].append(case)
        self.out: list[Violation] = []

    def case_at(self, station: str | None, ts: float | None = None) -> str:
        cases = self.by_station.get(station or "", [])
        if not cases:
            return "control"
        before = [c for c in cases if ts is None or c.injected_at <= ts] or cases[:1]
        return before[-1].name

    def add(self, rule: str, station: str | None, detail: str, event: Event | None = None) -> None:
        ts = event["ts"] if event else None
        self.out.append(Violation(rule, station, self.case_at(station, ts), detail, event))


_OVERLAYS = ("paused", "fault", "out_of_service")  # shown above a station's course (docs/scenarios.md)


def _interlock(j: _Judge) -> None:
    sc = j.scenario
    rules = DomainSettings()
    archives = {c.code: c for c in sc.cylinders}
    operators = {o.id: o for o in sc.operators}
    badges = set(operators) | {str(s.args["operator"]) for s in sc.steps if s.do in ("login", "logout")}
    # The registry changes by platform sync in such scenarios: eligibility is then not judged here.
    registry_static = not any(s.do in ("inspect", "regulator") for s in sc.steps)
    state: dict[str, tuple[str, str | None]] = {}
    phase: dict[str, str] = {}  # the course under the overlays (paused, fault, out_of_service)
    badge: dict[str, str | None] = defaultdict(lambda: None)
    label: dict[str, str | None] = defaultdict(lambda: None)
    refused: dict[str, bool] = defaultdict(bool)
    precheck: dict[str, Event] = {}
    order: dict[str, tuple[Event, list[str]]] = {}  # the last open order, and what did not hold
    closed_at: dict[str, float] = {}

    def judge_open(e: Event, sid: str) -> list[str]:
        why: list[str] = []
        now, cylinder = state.get(sid, ("idle", None))
        if now != "filling":
            why.append(f"station in {now}, not filling")
        who = badge[sid]
        if who is None:
            why.append("operator.none")
        else:
            why += [str(r) for r in operator_reasons(operators.get(who), sc.today)]
        if cylinder is None or label[sid] != cylinder:
            why.append(f"label scanned {label[sid]!r}, filling {cylinder!r}")
        if refused[sid]:
            why.append("refused since its scan")
        if cylinder is not None and registry_static:
            reasons = eligibility_reasons(archives.get(cylinder), sc.unit_code, sc.today, rules)
            why += [str(r) for r in reasons]
        check = precheck.get(cylinder or "")
        if check is None:
            why.append("precheck.missing")
        elif check["result"] != "pass":
            why.append("precheck.failed")
        elif check.get("complete") is False:
            why.append("precheck.incomplete")
        elif e["ts"] - check["ts"] > rules.precheck_window_s:
            why.append("precheck.missing (outside the window)")
        if any(s != sid and st == ("filling", cylinder) for s, st in state.items()):
            why.append("cylinder.in_use")
        return why

    for e in j.events:
        sid: str = e.get("station") or ""  # ("": an event of the floor, not of a station)
        type_ = e["type"]
        if type_ == StationState.TYPE:
            state[sid] = (e["state"], e.get("cylinder"))
            if e["state"] not in _OVERLAYS:
                phase[sid] = e["state"]
        elif type_ == Scan.TYPE:
            if "code" not in e and e["raw"] in badges:
                badge[sid] = None if badge[sid] == e["raw"] else e["raw"]
            elif phase.get(sid, "idle") not in ("filling", "settling"):
                # (a label scanned during a fill is shown, and changes nothing: the core ignores it,
                # also while a fault or a pause is shown over the fill's settling)
                label[sid], refused[sid] = e.get("code"), False
        elif (
            type_ == InterlockRefused.TYPE
            and e.get("cylinder") not in (None, "")
            and e["cylinder"] == label[sid]
        ):
            refused[sid] = True
        elif type_ == CheckRecorded.TYPE and e["phase"] == "pre":
            precheck[e["cylinder"]] = e
        elif type_ == ValveCommand.TYPE and e["open"]:
            order[sid] = (e, judge_open(e, sid))
            closed_at.pop(sid, None)
        elif type_ == ValveCommand.TYPE:
            closed_at.setdefault(sid, e["ts"])
        elif type_ == "sim.valve" and e["open"]:
            given = order.get(sid)
            if given is None:
                j.add("interlock", sid, "the valve opened with no open order", e)
                continue
            command, why = given
            late = sid in closed_at and e["ts"] - closed_at[sid] > IN_FLIGHT_S
            if late:
                j.add("interlock", sid, f"the valve opened {e['ts'] - closed_at[sid]:.2f} s after the close "
                      "order", e)  # fmt: skip
            if why:
                j.add("interlock", sid, f"the valve opened for an order given while the interlock did not "
                      f"hold ({'; '.join(why)}); order at {command['ts']}", e)  # fmt: skip


def _stuck_open_handled(j: _Judge, case: FaultCase, until: float) -> bool:
    """A critical valve.stuck_open alarm and the station in fault/out of service, since the fault."""
    since = case.injected_at
    alarm = any(a["kind"] == "valve.stuck_open" and a["severity"] == "critical" and since <= a["ts"] <= until
                for a in of(j.events, AlarmRaised.TYPE, case.station))  # fmt: skip
    faulted = any(s["state"] in _ABNORMAL_STATES and since <= s["ts"] <= until
                  for s in of(j.events, StationState.TYPE, case.station))  # fmt: skip
    return alarm and faulted


def _max_fill(j: _Judge) -> None:
    models = DomainSettings().models
    archives = {c.code: c for c in j.scenario.cylinders}
    for e in of(j.events, "sim.mass"):
        archive = archives.get(e["cylinder"] or "")
        if archive is None or archive.tare_kg is None or archive.model not in models:
            continue
        limit = archive.tare_kg + models[archive.model].max_fill_kg + NOISE_KG
        if Decimal(str(e["gross_kg"])) <= limit:
            continue
        sid = e["station"]
        what = f"{e['cylinder']} weighs {e['gross_kg']} kg, above tare + max fill ({limit} kg)"
        stuck = [c for c in j.by_station.get(sid, []) if c.kind == "stuck_open" and c.injected_at <= e["ts"]]
        if not stuck:
            j.add("max_fill", sid, what, e)
        elif not _stuck_open_handled(j, stuck[-1], e["ts"]):
            j.add("stuck_open", sid, f"{what}: stuck open, but no critical valve.stuck_open alarm and "
                  "no fault state", e)  # fmt: skip
    # A stuck valve that stays open after a close order must be seen, whatever the mass.
    for case in (c for c in j.cases if c.kind == "stuck_open"):
        valve = [e for e in of(j.events, "sim.valve", case.station) if e["ts"] <= case.ends_at]
        for close in of(j.events, ValveCommand.TYPE, case.station):
            if close["open"] or not case.injected_at <= close["ts"] <= case.ends_at - STUCK_ALARM_S:
                continue
            physically = [v["open"] for v in valve if v["ts"] <= close["ts"]]
            if physically[-1:] == [True] and not _stuck_open_handled(j, case, case.ends_at + STUCK_ALARM_S):
                j.add("stuck_open", case.station, "the valve stayed open after a close order without a "
                      "critical valve.stuck_open alarm and the station in fault", close)  # fmt: skip
                break


def _frozen_scale(j: _Judge) -> None:
    """A scale frozen while its station fills: the fill guard ends the fill, not the no-flow window."""
    for case in (c for c in j.cases if (c.device, c.kind, c.phase) == ("scale", "freeze", "filling")):
        since = case.injected_at
        closes = [
            e for e in of(j.events, ValveCommand.TYPE, case.station) if not e["open"] and e["ts"] >= since
        ]
        if not closes:
            continue  # (the valve was not open: its close came before the freeze)
        close = closes[0]
        if close["cause"] == "cut_off" and close["ts"] - since <= 0.3:
            continue  # the cut-off came before the freeze could show
        if close["cause"] not in ("fill.reading_not_credible", "model_cut_off"):
            j.add("frozen_scale", case.station, f"the fill was closed for {close['cause']}, not "
                  "fill.reading_not_credible", close)  # fmt: skip
        truth = [e for e in of(j.events, "sim.valve", case.station) if e["ts"] >= since and not e["open"]]
        if truth and truth[0]["ts"] - since > FROZEN_CLOSE_S:
            j.add("frozen_scale", case.station, f"the valve closed {truth[0]['ts'] - since:.2f} s after the "
                  f"scale froze (at most {FROZEN_CLOSE_S} s)", truth[0])  # fmt: skip


def _records(j: _Judge) -> None:
    fills = of(j.events, FillCompleted.TYPE) + of(j.events, FillAborted.TYPE)
    _every_open_has_its_fill(j)
    ids = Counter(e.get("record_id") for e in fills)
    for e in fills:
        rid = e.get("record_id")
        if not isinstance(rid, str) or not rid:
            j.add("record", e.get("station"), f"{e['type']} without a record id", e)
        elif ids[rid] > 1:
            j.add("record", e.get("station"), f"record {rid} reported {ids[rid]} times", e)
    if j.scenario.platform is None:
        return
    stored = Counter(e["record_id"] for e in of(j.events, "platform.stored"))
    for rid, n in stored.items():
        if n > 1:
            j.add("record", None, f"the platform stored record {rid} {n} times")
    synced = bool(j.scenario.steps) and j.scenario.steps[-1].do == "wait_sync"
    for e in fills:
        if synced and isinstance(e.get("record_id"), str) and stored[e["record_id"]] != 1:
            j.add("record", e.get("station"), f"fill record {e['record_id']} stored at the platform "
                  f"{stored[e['record_id']]} times, not once", e)  # fmt: skip


def _every_open_has_its_fill(j: _Judge) -> None:
    """A valve ordered open for a fill is followed, at its station, by that fill's end (completed or
    aborted) before the valve is ordered open for another: a fill that ran has a record."""
    opened: dict[str, Event] = {}
    for e in j.events:
        sid = e.get("station")
        if not isinstance(sid, str):
            continue
        if e["type"] == ValveCommand.TYPE and e.get("open") is True and e.get("cause") == "fill":
            if sid in opened:
                j.add("record", sid, "the valve was ordered open for a fill before the last one ended", e)
            opened[sid] = e
        elif e["type"] in (FillCompleted.TYPE, FillAborted.TYPE):
            opened.pop(sid, None)
    for sid, e in opened.items():
        j.add("record", sid, "a fill's valve was ordered open and the fill never ended (no record)", e)


def _standing_alarms(j: _Judge, station: str) -> set[str]:
    standing: set[str] = set()
    for e in j.events:
        if e.get("station") == station and e["type"] in (AlarmRaised.TYPE, AlarmCleared.TYPE):
            (standing.add if e["type"] == AlarmRaised.TYPE else standing.discard)(e["alarm_id"])
    return standing


def _end_state_and_recovery(j: _Judge) -> None:
    for station, cases in j.by_station.items():
        states = of(j.events, StationState.TYPE, station)
        last = states[-1] if states else None
        final = last["state"] if last else "idle"
        out = final == "out_of_service"
        if out and not _standing_alarms(j, station):
            j.add("end_state", station, "out of service at the end with no alarm standing", last)
        elif not out and final not in ("idle", "done"):
            j.add("end_state", station, f"ends {final}: not recovered (idle/done), not out of service", last)
        if out:
            continue
        first = min(c.step for c in cases)
        fills_expected = any(s.do == "wait" and s.station == station and s.args["for"] in _FILL_WAITS
                             and s.index > first for s in j.scenario.steps)  # fmt: skip
        ended = max(c.ends_at for c in cases)
        if fills_expected and not any(e["ts"] > ended for e in of(j.events, FillCompleted.TYPE, station)):
            j.add("recovery", station, f"no fill completed after the fault ended (at {ended:.2f} s)", last)


def _abnormal(e: Event) -> bool:
    match e["type"]:
        case AlarmRaised.TYPE | FillAborted.TYPE:
            return True
        case StationState.TYPE:
            return e["state"] in _ABNORMAL_STATES
        case InterlockRefused.TYPE:
            return any(r.startswith(_DEVICE_REASONS) for r in e["reasons"])
    return False


def _unaffected(j: _Judge) -> None:
    for sid in (s.id for s in j.scenario.stations):
        cases = j.by_station.get(sid, [])
        until = min((c.injected_at for c in cases), default=float("inf"))
        for e in j.events:
            if e.get("station") == sid and e["ts"] < until and _abnormal(e):
                why = "before its own fault" if cases else "at a station without a fault"
                j.add("unaffected", sid, f"abnormal {why}", e)
                break
        if cases:
            continue
        waits = sum(
            s.do == "wait" and s.station == sid and s.args["for"] in _FILL_WAITS for s in j.scenario.steps
        )
        done = len(of(j.events, FillCompleted.TYPE, sid))
        if done < waits:
            j.add("unaffected", sid, f"{done} fills completed, the script waited for {waits}")


def _script(j: _Judge) -> None:
    steps = {s.index: s for s in j.scenario.steps}
    for e in of(j.events, "scenario.timeout"):
        step = steps.get(e["index"])
        what = f"step[{e['index']}] {e['do']}" + (f" for {step.args.get('for')}" if step else "")
        j.add("script", step.station if step else None, f"{what} timed out", e)
    if not of(j.events, "scenario.done"):
        j.add("script", None, "the script did not run to its end (no scenario.done)")


def check(scenario: Scenario, events: list[Event]) -> list[Violation]:
    """Every violation of the invariants in this run (empty: the run is right)."""
    j = _Judge(scenario, events)
    for rule in (
        _script,
        _interlock,
        _max_fill,
        _frozen_scale,
        _records,
        _end_state_and_recovery,
        _unaffected,
    ):
        rule(j)
    return j.out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m simulator.history_check SCENARIO.toml EVENTS.jsonl", file=sys.stderr)
        return 2
    scenario, events = load_scenario(Path(args[0])), read_events(Path(args[1]))
    for case in fault_cases(scenario, events):
        print(f"case {case.station}: {case.name} at {case.injected_at:.2f} s for {case.seconds} s")
    violations = check(scenario, events)
    for v in violations:
        print(v)
    print(f"{len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
