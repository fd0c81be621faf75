"""Console commands: who may give each is `domain.roles`'s table (docs/architecture.md, Console);
here they are checked against it and carried out on the floor.

| command | args |
|---|---|
| pause / resume | station |
| stop / start | station (an operator: their own) |
| check | cylinder (code/label), phase (pre/post), result (pass/fail), items, station? |
| ack | alarm_id |
| shelve | alarm_id, minutes (1..480) |
| restart | target (S1, S1.scale, storage, ...) |
| out_of_service / return_to_service | station |

Every command, refused ones included, is audited with who, role, target and result (maintenance
commands by `Maintenance`, the others here). A refusal says why; nothing a console sends can raise
out of here.

A check is taken only when it means something (`domain.checks`): its cylinder is read with the
floor's label rule, as the scanner reads it, so a label URL is recorded under the code the scan will
look for; the code must be in the registry; and its items must back its result (a pass answers every
item as checked and passed, a fail names a failed item). A refusal's code is its reason code when
there is one (`label.unreadable`, `label.foreign_unit`, `cylinder.unknown`, `precheck.incomplete`).

Every answer is a code of `domain.catalogue` with its parameters; the audit keeps it in English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import trio

from domain.checks import check_problem
from domain.labels import parse_label
from domain.messages import CheckPhase, CheckSubmitted, ConsoleOrder
from domain.reasons import Reason
from domain.records import AuditRecord
from domain.roles import COMMAND_ROLES, OWN_STATION_ONLY, Command, may, refusal
from domain.times import utc_now
from supervisor.floor import Floor
from supervisor.runtime.mailbox import MailboxFull
from supervisor.runtime.maintenance import CommandResult
from supervisor.station.alarms import AlarmBoard
from supervisor.storage.users import ConsoleUser

__all__ = ["execute"]

# Judged and audited by Maintenance (its restarts are not only the console's).
_MAINTENANCE = (Command.RESTART, Command.OUT_OF_SERVICE, Command.RETURN_TO_SERVICE)


class _Refused(Exception):
    """A command refused for its arguments or the caller's role: a code of `domain.catalogue`."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.result = CommandResult(False, code, params)


def _refused(reason: Reason, what: str) -> _Refused:
    """A refusal for a reason code: the code is the reason (consoles match on it), what the detail."""
    return _Refused(str(reason), detail=what)


def _text(args: Mapping[str, Any], key: str, limit: int = 64) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or not _printable(value):
        raise _Refused("console.bad_text", field=key, limit=limit)
    return value


def _printable(text: str) -> bool:
    """No control characters: the floor broadcasts what a console sends to every other console and
    keeps it in its records (a terminal escape in a cylinder code reached supervisors' screens)."""
    return text.isprintable()


async def execute(floor: Floor, alarms: AlarmBoard, user: ConsoleUser, name: str,
                  args: Mapping[str, Any]) -> CommandResult:  # fmt: skip
    """Check the role, carry the command out, audit it; never raises for what a console sends."""
    if name not in COMMAND_ROLES:
        # Audited as any refusal (someone trying commands is worth seeing), the name made printable.
        shown = name.encode("unicode_escape").decode("ascii")[:64]
        result = CommandResult(False, "console.unknown_command",
                               {"command": shown, "known": ", ".join(COMMAND_ROLES)})  # fmt: skip
        floor.sink.put(AuditRecord(utc_now(), user.name, user.role, shown, "refused", "", result.message))
        return result
    if name in _MAINTENANCE:
        return await _maintenance(floor, user, name, args)  # (audited by Maintenance)
    target = str(args.get("station") or args.get("alarm_id") or args.get("cylinder") or "")[:64]
    try:
        if may(user.role, name):
            result = _do(floor, alarms, user, name, args)
        else:
            result = CommandResult(False, "console.role_refused", refusal(user.role, name))
    except _Refused as exc:
        result = exc.result
    except MailboxFull:
        result = CommandResult(False, "console.station_stuck")
    floor.sink.put(AuditRecord(utc_now(), user.name, user.role, name, "ok" if result.ok else "refused",
                               target, result.message))  # fmt: skip
    return result


def _station(floor: Floor, user: ConsoleUser, args: Mapping[str, Any], own: bool = False) -> str:
    station = _text(args, "station", 32)
    if station not in floor.stations:
        raise _Refused("station.unknown", station=station)
    if own and user.role in OWN_STATION_ONLY and user.station != station:
        raise _Refused("console.own_station_only", station=user.station)
    return station


def _do(
    floor: Floor, alarms: AlarmBoard, user: ConsoleUser, name: str, args: Mapping[str, Any]
) -> CommandResult:
    now = trio.current_time()
    match name:
        case "pause" | "resume" | "stop" | "start":
            station = _station(floor, user, args, own=True)
            floor.stations[station].tell(ConsoleOrder(name, user.name, now))
            return CommandResult(True, "console.ordered", {"station": station, "command": name})
        case "check":
            # A code or a whole label: past the rule's length parse_label refuses it, with its code.
            cylinder = _text(args, "cylinder", 4 * floor.config.label.max_length)
            phase, result = args.get("phase"), args.get("result")
            if phase not in ("pre", "post") or result not in ("pass", "fail"):
                raise _Refused("console.bad_check_choice")
            items = args.get("items", {})
            if (
                not isinstance(items, dict)
                or len(items) > 32
                or not all(
                    isinstance(k, str)
                    and isinstance(v, str)
                    and len(k) <= 64
                    and len(v) <= 256
                    and _printable(k)
                    and _printable(v)
                    for k, v in items.items()
                )
            ):
                raise _Refused("console.bad_items")
            cylinder = _registered_code(floor, cylinder)
            _well_formed(phase, result == "pass", items)
            station = _station(floor, user, args) if "station" in args else _where(floor, cylinder)
            floor.stations[station].tell(CheckSubmitted(
                cylinder, CheckPhase(phase), result == "pass", user.name, items, at=now,
                when=dt.datetime.now(dt.UTC),
            ))  # fmt: skip
            return CommandResult(
                True,
                "check.pre_submitted" if phase == "pre" else "check.post_submitted",
                {"cylinder": cylinder},
            )
        case "ack":
            alarm_id = _text(args, "alarm_id", 128)
            if not alarms.acknowledge(alarm_id, user.name):
                raise _Refused("alarm.not_unacknowledged", alarm_id=alarm_id)
            return CommandResult(True, "alarm.acknowledged", {"alarm_id": alarm_id})
        case "shelve":
            alarm_id = _text(args, "alarm_id", 128)
            minutes = args.get("minutes")
            if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 480:
                raise _Refused("console.bad_minutes")
            if not alarms.shelve(alarm_id, user.name, now + minutes * 60):
                raise _Refused("alarm.unknown", alarm_id=alarm_id)
            return CommandResult(True, "alarm.shelved", {"alarm_id": alarm_id, "minutes": minutes})
    known = ", ".join(COMMAND_ROLES)  # pragma: no cover - COMMAND_ROLES lists what is handled
    raise _Refused("console.unknown_command", command=name, known=known)  # pragma: no cover


def _registered_code(floor: Floor, text: str) -> str:
    """The code a check is for, read with the floor's label rule as the scanner reads a label (a
    check stored under a label URL would never be found by the scan), and in the registry."""
    label = parse_label(text, floor.config.label)
    if label.reason is not None or label.code is None:
        raise _refused(label.reason or Reason.LABEL_UNREADABLE, label.raw)
    if label.code not in floor.state.archives:
        raise _refused(Reason.CYLINDER_UNKNOWN, label.code)
    return label.code


def _well_formed(phase: str, passed: bool, items: Mapping[str, str]) -> None:
    """The check rule of `domain.checks`: a pass answers every item as checked and passed (else a
    pre-fill pass is refused as `precheck.incomplete`), a fail names a failed item; the refusal
    names the items concerned."""
    problem = check_problem(phase, passed, items)
    if problem is None:
        return
    if passed and phase == "pre":
        raise _refused(Reason.PRECHECK_INCOMPLETE, problem)
    raise _Refused("check.pre_problem" if phase == "pre" else "check.post_problem", problem=problem)


def _where(floor: Floor, cylinder: str) -> str:
    """A check names a cylinder, not a station: record it at the station holding it, or the first."""
    return floor.state.holder(cylinder) or next(iter(floor.stations))


async def _maintenance(floor: Floor, user: ConsoleUser, name: str, args: Mapping[str, Any]) -> CommandResult:
    if name == "restart":
        target = args.get("target")
        if not isinstance(target, str) or not target or len(target) > 64:
            return CommandResult(False, "console.bad_target")
        return await floor.maintenance.restart(target, user.name, user.role)
    station = args.get("station")
    # Bounded as every other argument: the audit row's target holds 64 characters, and a longer one
    # was refused by PostgreSQL, the command left unaudited (found by fuzzing).
    if not isinstance(station, str) or not station or len(station) > 64:
        return CommandResult(False, "console.bad_station")
    return await floor.maintenance.set_out_of_service(station, name == "out_of_service", user.name, user.role)
