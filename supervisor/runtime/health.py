"""Actor health: what each actor reports, as `actor.health` events (docs/scenarios.md)."""

from __future__ import annotations

from enum import StrEnum

from attrs import frozen

from domain.events import ActorHealthChanged

__all__ = ["ActorHealth", "HealthState"]


class HealthState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # crashed; the next try is scheduled
    FAILED = "failed"  # given up on (restart intensity exceeded) or not to be restarted
    STOPPED = "stopped"


@frozen
class ActorHealth:
    actor: str  # a stable path: S1.scale, S1, storage, ...
    state: HealthState
    restarts: int = 0
    error: str | None = None  # the last error, one line
    traceback: str | None = None  # kept for maintenance, not sent in events
    attempt: int = 0  # restarting: which attempt comes next
    next_try_in_s: float | None = None  # restarting: backoff before the next try
    link: str | None = None  # a device actor's link (connecting, up, lost), as the tree is read

    def event(self) -> ActorHealthChanged:
        """What the bus tells observers of it (a restart's attempt and wait only while restarting)."""
        restarting = self.state == HealthState.RESTARTING
        return ActorHealthChanged(
            self.actor, self.state.value, self.restarts, self.error,
            attempt=self.attempt if restarting else None,
            next_try_in_s=round(self.next_try_in_s or 0.0, 3) if restarting else None,
            link=self.link,
        )  # fmt: skip
