"""The live demo's floor: a few stations and a steady stream of scripted cylinders.

What `make demo` shows a newcomer in the console: stations filling side by side (over Modbus TCP
and RTU), a refusal now and then with its reasons (inspection overdue, scrapped, another unit's
label, an unregistered code), a scale that drops off the line for a few seconds (an alarm that
comes and clears), and a scanner actor that keeps crashing for a while, so that the supervisor
gives up on it and the station goes out of service until maintenance restarts it from the console.
The city platform runs embedded (docs/scenarios.md `[platform]`) and is out of reach now and then: the
console's shift screen shows the records waiting, then going up.

It is an ordinary scenario (docs/scenarios.md), built here as data rather than written out by hand
because it is long: `rounds` rounds of about 20 s each.
"""

from __future__ import annotations

from typing import Any

from simulator.scenario import Scenario, parse_scenario

__all__ = ["live_demo_scenario"]

_UNIT = "HY0012"
_TODAY = "2026-11-23"
_NAMED = [("OP01", "张三"), ("OP02", "李四"), ("OP03", "王五"), ("OP04", "赵六"), ("OP05", "钱七"),
          ("OP06", "孙八")]  # fmt: skip
MAX_STATIONS = 64  # the soak run's floor; the console's live demo shows up to six
_OPERATORS = _NAMED + [(f"OP{i + 1:02d}", f"操作员{i + 1}") for i in range(len(_NAMED), MAX_STATIONS)]
# Cylinders the interlock must refuse, one per round in turn, with what they show (numbered 9000…:
# the stations' own cylinders are numbered by station, 0001…0064).
_REFUSED: list[tuple[str, dict[str, Any] | None]] = [
    ("HY00129000001", {"tare_kg": 15.0, "manufactured": "2017-03-01", "last_inspection": "2021-03-01"}),
    (
        "HY00129000002",
        {
            "tare_kg": 15.1,
            "manufactured": "2012-01-01",
            "last_inspection": "2024-01-01",
            "status": "scrapped",
        },
    ),
    ("HY00330000077", None),  # another unit's label
    ("HY00129000999", None),  # a code nobody registered
]


def _cylinder(code: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "owner": _UNIT, "model": "YSP35.5", "manufactured": "2021-05-01",
            "last_inspection": "2025-05-01", **fields}  # fmt: skip


def _doc(stations: int, rounds: int, maintenance: bool) -> dict[str, Any]:
    ids = [f"S{i + 1}" for i in range(stations)]
    cylinders = [
        _cylinder(f"HY0012{i + 1:04d}{k:03d}", tare_kg=round(14.8 + 0.1 * ((i + k) % 8), 1))
        for i in range(stations) for k in range(2)
    ]  # fmt: skip
    cylinders += [_cylinder(code, **fields) for code, fields in _REFUSED if fields is not None]
    station_tables = [
        {"id": sid, "flow_kg_s": 1.6 + 0.2 * (i % 3), "valve_delay_ms": 150, "scale_noise_g": 5,
         "cutoff": "indicator" if i % 2 == 0 else "host", "protocol": "tcp" if i % 2 == 0 else "rtu"}
        for i, sid in enumerate(ids)
    ]  # fmt: skip
    steps: list[dict[str, Any]] = [
        {"do": "login", "station": sid, "operator": op}
        for sid, (op, _name) in zip(ids, _OPERATORS, strict=False)
    ]
    items = {"markings": "ok", "valve": "ok", "residual_pressure": "ok"}
    for r in range(rounds):
        refused_at = ids[r % stations]
        refused_code = _REFUSED[r % len(_REFUSED)][0]
        filled: list[str] = []
        for i, sid in enumerate(ids):
            if sid == refused_at:
                steps += [{"do": "place", "station": sid, "cylinder": refused_code, "gross_kg": 15.4},
                          {"do": "scan", "station": sid, "text": refused_code}]  # fmt: skip
                continue
            code = f"HY0012{i + 1:04d}{r % 2:03d}"
            tare = next(c["tare_kg"] for c in cylinders if c["code"] == code)
            steps += [
                {"do": "precheck", "station": sid, "cylinder": code, "result": "pass", "checker": "CK01",
                 "items": items},
                {"do": "place", "station": sid, "cylinder": code, "gross_kg": round(tare + 0.4, 2)},
                {"do": "scan", "station": sid, "text": code},
            ]  # fmt: skip
            filled.append(sid)
        for sid in filled:
            code = f"HY0012{int(sid[1:]):04d}{r % 2:03d}"
            steps += [
                {"do": "wait", "station": sid, "for": "state:awaiting_postcheck", "timeout_s": 40},
                {"do": "postcheck", "station": sid, "cylinder": code, "result": "pass", "checker": "CK01",
                 "items": {"leak": "ok", "seal": "ok"}},
                {"do": "wait", "station": sid, "for": "state:done", "timeout_s": 5},
            ]  # fmt: skip
        steps.append({"do": "sleep", "seconds": 2})
        steps += [{"do": "remove", "station": sid} for sid in ids]
        if r % 3 == 2:  # a scale drops off the line while its station is idle: an alarm, then clear
            lost = ids[(r // 3) % stations]
            steps += [{"do": "fault", "station": lost, "device": "scale", "kind": "disconnect", "seconds": 4},
                      # back before the next round (else its scan is refused, station.fault, and the
                      # round waits out that station's fill: the soak's floor sat idle for minutes)
                      {"do": "sleep", "seconds": 6},
                      {"do": "wait", "station": lost, "for": "state:idle", "timeout_s": 30}]  # fmt: skip
        if r % 6 == 1:  # the city platform out of reach for a while: the backlog grows, then drains
            steps.append({"do": "platform", "mode": "down", "seconds": 30})
        if r % 12 == 4:  # a scanner actor that crashes at every start: given up on → out of service
            steps.append({"do": "fault", "station": ids[-1], "device": "scanner", "kind": "crash",
                          "seconds": 30})  # fmt: skip
        if maintenance and r % 12 == 6:  # (the crashes have stopped) maintenance restarts it
            steps.append({"do": "restart", "actor": ids[-1]})
        steps.append({"do": "sleep", "seconds": 3})
    return {
        "today": _TODAY,
        "unit": {"code": _UNIT, "short_name": "衡阳燃气"},
        "cylinder": cylinders,
        "operator": [
            {"id": op, "name": name, "certificate_expires": "2028-06-30"}
            for op, name in _OPERATORS[: max(stations, len(_NAMED))]
        ],
        "station": station_tables,
        "platform": {"embedded": True, "sync_interval_s": 2.0},
        "step": steps,
    }


def live_demo_scenario(stations: int = 4, rounds: int = 360, *, maintenance: bool = False) -> Scenario:
    """About two hours of a live floor with `stations` stations (1–64; rounds of ~20 s).
    `maintenance`: the script also restarts the station whose scanner kept crashing, as maintenance
    would from the console (the soak run has nobody at a console)."""
    if not 1 <= stations <= MAX_STATIONS:
        raise ValueError(f"the live demo has 1 to {MAX_STATIONS} stations, not {stations}")
    return parse_scenario(_doc(stations, rounds, maintenance), "<live demo>")
