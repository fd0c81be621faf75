"""What every station of a floor must agree on: the registry, checks, claims and holds.

The interlock asks floor-wide questions — is this cylinder at another station (`cylinder.in_use`),
was a passing pre-fill check recorded for it at any check terminal, is its last overfill resolved,
has the regulator disabled this station — and must answer them without waiting on storage, so the
answers live here, in memory, kept current by the coordinators and the registry sync.

All of it runs on the floor's one trio thread and every method is synchronous (no checkpoint), so
a claim is atomic: two stations scanning the same cylinder in the same instant cannot both win.
It is the one place the floor's actors share, on purpose, and nothing in it blocks; the durable
truth stays in the database (records written through the storage writer), from which
`FloorState` is rebuilt at start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from attrs import frozen

from domain.archive import CylinderArchive, Operator
from domain.checks import CheckEntry
from domain.holds import Hold
from domain.messages import CheckPhase

__all__ = ["CheckEntry", "FloorState", "Hold", "LastFill"]


@frozen
class LastFill:
    """A cylinder's most recent fill, to bind its post-fill check and to hold an overfill."""

    record_id: str
    station: str
    ended_at: float  # monotonic
    underfill_gross_kg: Decimal | None = None  # its re-weigh, when it was an under-fill (a top-up may follow)


class FloorState:
    def __init__(
        self,
        unit_code: str,
        today: Callable[[], dt.date],
        archives: Iterable[CylinderArchive] = (),
        operators: Iterable[Operator] = (),
        *,
        holds: Iterable[tuple[Hold, str]] = (),
    ) -> None:
        self.unit_code = unit_code
        self.today = today
        self.archives: dict[str, CylinderArchive] = {a.code: a for a in archives}
        self.operators: dict[str, Operator] = {o.id: o for o in operators}
        self._checks: dict[str, list[CheckEntry]] = {}
        self._claims: dict[str, str] = {}  # cylinder -> station
        self.last_fill: dict[str, LastFill] = {}
        self.holds: dict[Hold, set[str]] = {kind: set() for kind in Hold}
        for kind, cylinder in holds:
            self.holds[kind].add(cylinder)
        self.disabled_stations: set[str] = set()  # by the regulator, via registry sync
        self.unit_disabled = False
        self.registry_version = 0  # bumps on every registry change: stations re-check a fill

    # --- registry (the sync applies platform changes here) ---

    def put_archive(self, archive: CylinderArchive) -> None:
        self.archives[archive.code] = archive
        self.registry_version += 1

    def put_operator(self, operator: Operator) -> None:
        self.operators[operator.id] = operator
        self.registry_version += 1

    def set_disabled(self, station: str | None, disabled: bool) -> None:
        """A regulator's disable (DB4114/T 185-2023): a station, or the whole unit (station None)."""
        if station is None:
            self.unit_disabled = disabled
        elif disabled:
            self.disabled_stations.add(station)
        else:
            self.disabled_stations.discard(station)
        self.registry_version += 1

    def disabled(self, station: str) -> bool:
        return self.unit_disabled or station in self.disabled_stations

    # --- holds ---

    def held(self, cylinder: str, kind: Hold) -> bool:
        return cylinder in self.holds[kind]

    def set_hold(self, cylinder: str, kind: Hold, on: bool) -> bool:
        """Hold or release; whether that changed anything."""
        held = self.holds[kind]
        if (cylinder in held) == on:
            return False
        (held.add if on else held.discard)(cylinder)
        return True

    # --- checks ---

    def add_check(self, entry: CheckEntry) -> None:
        history = self._checks.setdefault(entry.cylinder, [])
        history.append(entry)
        del history[:-8]  # the interlock needs only the recent ones; storage keeps them all

    def latest_check(self, cylinder: str, phase: CheckPhase, since: float) -> CheckEntry | None:
        """The newest check of that phase at or after `since` (a later pass overrides a fail)."""
        for entry in reversed(self._checks.get(cylinder, ())):
            if entry.phase == phase and entry.at >= since:
                return entry
        return None

    # --- claims: one cylinder, one station ---

    def claim(self, cylinder: str, station: str) -> str | None:
        """Claim the cylinder for the station; the other station holding it, if any."""
        holder = self._claims.setdefault(cylinder, station)
        return None if holder == station else holder

    def release(self, cylinder: str, station: str) -> None:
        if self._claims.get(cylinder) == station:
            del self._claims[cylinder]

    def holder(self, cylinder: str) -> str | None:
        return self._claims.get(cylinder)
