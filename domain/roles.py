"""Who may do what on the floor: the console's roles and the one table of their commands
(docs/console-protocol.md, Users and tokens).

The console's command handler, maintenance control and `fillfloor user add` all ask here, so a
role's rights are written once. A role is stored as its text (`console_user.role`); `Role` is a
`StrEnum`, so the stored text compares equal to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["COMMAND_ROLES", "OWN_STATION_ONLY", "ROLES", "Command", "Role", "may", "refusal", "rights"]


class Role(StrEnum):
    VIEWER = "viewer"  # watches
    OPERATOR = "operator"  # stops and starts the fill at their own station
    CHECKER = "checker"  # records pre- and post-fill checks
    MAINTENANCE = "maintenance"  # restarts actors, takes stations out of service
    SUPERVISOR = "supervisor"  # all of the above, and holds stations and handles alarms


class Command(StrEnum):
    """A console command (docs/console-protocol.md)."""

    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    START = "start"
    CHECK = "check"
    ACK = "ack"
    SHELVE = "shelve"
    RESTART = "restart"
    OUT_OF_SERVICE = "out_of_service"
    RETURN_TO_SERVICE = "return_to_service"


ROLES: tuple[str, ...] = tuple(Role)  # in order of rights, as `fillfloor user add --role` lists them

_MAINTAINERS = frozenset({Role.MAINTENANCE, Role.SUPERVISOR})

# The table: each command and the roles that may give it (a supervisor may give every one).
COMMAND_ROLES: Mapping[Command, frozenset[Role]] = {
    Command.PAUSE: frozenset({Role.SUPERVISOR}),
    Command.RESUME: frozenset({Role.SUPERVISOR}),
    Command.STOP: frozenset({Role.OPERATOR, Role.SUPERVISOR}),
    Command.START: frozenset({Role.OPERATOR, Role.SUPERVISOR}),
    Command.CHECK: frozenset({Role.CHECKER, Role.SUPERVISOR}),
    Command.ACK: frozenset({Role.SUPERVISOR}),
    Command.SHELVE: frozenset({Role.SUPERVISOR}),
    Command.RESTART: _MAINTAINERS,
    Command.OUT_OF_SERVICE: _MAINTAINERS,
    Command.RETURN_TO_SERVICE: _MAINTAINERS,
}

# Roles bound to one station: their user names it, and they act on that station only.
OWN_STATION_ONLY: frozenset[Role] = frozenset({Role.OPERATOR})


def may(role: str, command: str) -> bool:
    """Whether `role` may give `command` (False for an unknown role or command)."""
    return command in COMMAND_ROLES and role in COMMAND_ROLES[Command(command)]


def rights(role: str) -> tuple[Command, ...]:
    """The commands `role` may give, in the table's order (none: the role watches)."""
    return tuple(c for c in Command if may(role, c))


def refusal(role: str, command: str) -> dict[str, str]:
    """Why `role` may not give `command`, naming the roles that may: the parameters of the
    refusal's catalogue entry (`console.role_refused`)."""
    allowed = " or ".join(sorted(COMMAND_ROLES[Command(command)]))
    return {"role": role, "command": command, "roles": allowed}
