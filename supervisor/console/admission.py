"""Who may hold a connection to the console server, and for how long.

The floor's devices and the consoles share one process's descriptors and one loop; a flood of
connections must cost the floor neither. So every connection is admitted here before any byte of it
is read, and counted until it is closed:

- a connection still in its handshake or hello is *pending*: there are at most `max_pending` of
  them, and a new one over that drops the oldest pending one (someone holding sockets half-open
  cannot keep a real console out for longer than its own handshake takes);
- each client address holds at most `max_per_address` connections of either kind, and past it a
  new one is refused;
- an authenticated console is a *session*: at most `max_sessions_per_user` per user and
  `max_sessions` in all; a new session past either cap takes the place of the oldest idle one (idle:
  longest without a command), of that user first;
- the total of both never exceeds `capacity`, which leaves the process's device links their
  descriptors (`connection_capacity`).

A refusal or a drop is logged, at most once a minute per kind with the count since.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Callable, Iterable

import attrs
import trio

__all__ = ["Admission", "Limits", "LoginThrottle", "Ticket", "connection_capacity"]

log = logging.getLogger(__name__)

_LOG_EVERY_S = 60.0
# Descriptors the process keeps for itself beyond its device links: the database (and its WAL and
# lock files), the event file, the platform client's connections, the loop's own wakeup pipes.
_SPARE_DESCRIPTORS = 64


@attrs.frozen
class Limits:
    max_sessions: int = 64
    max_sessions_per_user: int = 4
    max_pending: int = 32
    max_per_address: int = 64
    capacity: int = 128  # connections of every kind together


def connection_capacity(wanted: int, device_links: int) -> int:
    """The connections the console may hold: `wanted`, or fewer where the process's descriptor
    limit would otherwise let a console flood take the descriptors a device reconnect needs."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    spare = soft - 2 * device_links - _SPARE_DESCRIPTORS  # (a link may hold two while reconnecting)
    return max(1, min(wanted, spare))


@attrs.define(eq=False)
class Ticket:
    """One admitted connection: its address, its state, and the way to end it from outside."""

    address: str
    scope: trio.CancelScope
    user: str | None = None  # set once it is a session
    last_command_at: float = 0.0
    # Why it was ended from outside (a catalogue code its console is told), or None.
    dropped: str | None = None

    def drop(self, code: str) -> None:
        self.dropped = code
        self.scope.cancel()


class Admission:
    def __init__(self, limits: Limits, clock: Callable[[], float] = trio.current_time) -> None:
        self.limits = limits
        self._clock = clock
        self._pending: dict[Ticket, None] = {}  # insertion order: the oldest first
        self._sessions: dict[Ticket, None] = {}
        self._per_address: dict[str, int] = {}
        self._refusals: dict[str, tuple[float, int]] = {}  # kind -> (last logged at, count since)

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def admit(self, address: str, scope: trio.CancelScope) -> Ticket | None:
        """A new connection from `address`, or None (refused: close it without reading)."""
        if self._per_address.get(address, 0) >= self.limits.max_per_address:
            self._note("per_address", address)
            return None
        if len(self._pending) >= self.limits.max_pending:
            self._drop(next(iter(self._pending)), "console.pending_full", "pending")
        elif len(self._pending) + len(self._sessions) >= self.limits.capacity:
            self._note("capacity", address)
            return None
        ticket = Ticket(address, scope)
        self._pending[ticket] = None
        self._per_address[address] = self._per_address.get(address, 0) + 1
        return ticket

    def authenticated(self, ticket: Ticket, user: str) -> None:
        """The connection is now `user`'s session; an older idle one makes room if a cap is met."""
        if ticket not in self._pending:
            return  # (dropped while its hello was being checked)
        del self._pending[ticket]
        ticket.user = user
        ticket.last_command_at = self._clock()
        own = [t for t in self._sessions if t.user == user]
        if len(own) >= self.limits.max_sessions_per_user:
            self._drop(_idlest(own), "console.replaced", "per_user")
        elif len(self._sessions) >= self.limits.max_sessions:
            self._drop(_idlest(self._sessions), "console.replaced", "sessions")
        self._sessions[ticket] = None

    def commanded(self, ticket: Ticket) -> None:
        ticket.last_command_at = self._clock()

    def users_sessions(self, user: str) -> list[Ticket]:
        return [t for t in self._sessions if t.user == user]

    def release(self, ticket: Ticket) -> None:
        """The connection is closed (called once, however it ended: dropped ones too)."""
        self._pending.pop(ticket, None)
        self._sessions.pop(ticket, None)
        left = self._per_address[ticket.address] - 1
        if left:
            self._per_address[ticket.address] = left
        else:
            del self._per_address[ticket.address]

    def _drop(self, ticket: Ticket, code: str, kind: str) -> None:
        self._pending.pop(ticket, None)
        self._sessions.pop(ticket, None)
        ticket.drop(code)
        self._note(f"dropped_{kind}", ticket.address)

    def _note(self, kind: str, address: str) -> None:
        now = self._clock()
        last, count = self._refusals.get(kind, (-_LOG_EVERY_S, 0))
        count += 1
        if now - last >= _LOG_EVERY_S:
            log.warning("console connection %s (from %s; %d since the last report)",
                        kind.replace("_", " "), address, count)  # fmt: skip
            self._refusals[kind] = (now, 0)
        else:
            self._refusals[kind] = (last, count)


class LoginThrottle:
    """Failed logins per client address: past `limit` within `window_s`, that address's hellos are
    refused without a look at their token until the window has passed (guessing a token from one
    address costs a minute per `limit` guesses). Each failure is logged, at most once a minute per
    address with the count since."""

    def __init__(self, limit: int = 5, window_s: float = 60.0,
                 clock: Callable[[], float] = trio.current_time) -> None:  # fmt: skip
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._logged: dict[str, tuple[float, int]] = {}

    def throttled(self, address: str) -> bool:
        return len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> None:
        now = self._clock()
        self._failures[address] = [*self._recent(address), now]
        last, count = self._logged.get(address, (-_LOG_EVERY_S, 0))
        if now - last >= _LOG_EVERY_S:
            log.warning("console login failed from %s (%d since the last report)", address, count + 1)
            self._logged[address] = (now, 0)
        else:
            self._logged[address] = (last, count + 1)

    def _recent(self, address: str) -> list[float]:
        """This address's failures within the window; an address that stopped failing is forgotten."""
        horizon = self._clock() - self.window_s
        kept = [t for t in self._failures.get(address, ()) if t > horizon]
        if not kept:
            self._failures.pop(address, None)
            if self._logged.get(address, (0.0, 0))[0] <= horizon:
                self._logged.pop(address, None)
        return kept


def _idlest(tickets: Iterable[Ticket]) -> Ticket:
    return min(tickets, key=lambda t: t.last_command_at)
