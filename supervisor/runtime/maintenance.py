"""Maintenance control: restart an actor or a station, take a station out of service and back,
read the tree with health. Every command is checked against the caller's role and audited
(who, when, what, result), refused ones included; an invalid one is refused with its reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from attrs import field, frozen

from domain.catalogue import render
from domain.records import AuditRecord
from domain.roles import may, refusal
from supervisor.runtime.health import HealthState
from supervisor.runtime.station import StationRuntime
from supervisor.runtime.supervisor import ChildView, NotRunning, Supervisor

__all__ = ["AuditSink", "CommandResult", "Maintenance"]

# The storage writer's audit path (or a test's list): awaited, so the record is kept before the reply.
AuditSink = Callable[[AuditRecord], Awaitable[object]]


@frozen
class CommandResult:
    """What came of a command, as a code of `domain.catalogue` with its parameters: a console puts
    it in its own language; the audit keeps it in English (`message`)."""

    ok: bool
    code: str
    params: Mapping[str, Any] = field(factory=dict)

    @property
    def message(self) -> str:
        return render(self.code, self.params, "en")

    @property
    def word(self) -> str:
        """As the audit records it."""
        return "ok" if self.ok else "refused"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Maintenance:
    def __init__(self, root: Supervisor, stations: Mapping[str, StationRuntime], audit: AuditSink) -> None:
        self._root = root
        self._stations = stations
        self._audit = audit

    def tree(self) -> tuple[ChildView, ...]:
        """The whole tree with each actor's health (the traceback of a failed one included)."""
        return self._root.view()

    async def restart(self, target: str, who: str, role: str) -> CommandResult:
        """Restart a station (`S1`), one of its actors (`S1.scale`) or a floor actor (`storage`)."""
        return await self._run("restart", target, who, role, lambda: self._restart(target))

    async def set_out_of_service(self, station: str, on: bool, who: str, role: str) -> CommandResult:
        async def act() -> CommandResult:
            runtime = self._stations.get(station)
            if runtime is None:
                return CommandResult(False, "station.unknown", {"station": station})
            runtime.set_out_of_service(on)
            return CommandResult(
                True,
                "maintenance.out_of_service" if on else "maintenance.back_in_service",
                {"station": station},
            )

        command = "out_of_service" if on else "return_to_service"
        return await self._run(command, station, who, role, act)

    async def _run(
        self, command: str, target: str, who: str, role: str, act: Callable[[], Awaitable[CommandResult]]
    ) -> CommandResult:
        if not may(role, command):
            result = CommandResult(False, "console.role_refused", refusal(role, command))
        else:
            try:
                result = await act()
            except NotRunning as exc:
                result = CommandResult(False, "maintenance.not_running", {"detail": str(exc)})
        await self._audit(AuditRecord(_now(), who, role, command, result.word, target, result.message))
        return result

    async def _restart(self, target: str) -> CommandResult:
        station, _, device = target.partition(".")
        if not device:
            if target not in self._root.names():
                return CommandResult(False, "actor.or_station_unknown", {"target": target})
            await self._root.restart_child(target)
            return CommandResult(True, "maintenance.restarted", {"target": target})
        runtime = self._stations.get(station)
        if runtime is None or target not in runtime.supervisor.names():
            return CommandResult(False, "actor.unknown", {"target": target})
        if self._root.health(station).state in (HealthState.FAILED, HealthState.STOPPED):
            await self._root.restart_child(station)  # the station itself is down: bring it all back
            return CommandResult(
                True, "maintenance.restarted_station", {"station": station, "target": target}
            )
        await runtime.supervisor.restart_child(target)
        return CommandResult(True, "maintenance.restarted", {"target": target})
