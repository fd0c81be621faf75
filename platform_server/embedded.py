"""The platform in-process for a scenario (docs/scenarios.md `[platform] embedded = true`).

`embedded_platform(...)` opens the platform database, registers the scenario's unit, stations,
cylinders and operators as the unit would have done (the cylinders as they are, without the
registration rules: a scenario's registry may hold overdue or foreign cylinders on purpose), adds
an inspection agency and the regulator, and serves it on a loopback port. The scenario steps
`inspect` and `regulator` go through the real signed API (`inspect`, `regulate`); the `platform`
step is `set_mode`. Its party keys are sealed under a secret made for the run and never written:
the scenario's keys live as long as its platform (a database kept with `--platform-db` can be read
with `fillfloor platform export`, not served again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from attrs import define

from domain.archive import CylinderArchive, Operator
from domain.rows import operator_to_row
from domain.times import utc_now
from platform_client.auth import SigningAuth
from platform_server.app import OnRecord, PlatformApp
from platform_server.archives import seed_archives
from platform_server.floors import register_operators, register_stations
from platform_server.key_seal import KeySeal
from platform_server.parties import add_party, add_unit
from platform_server.serve import running_platform
from platform_server.store import open_store

__all__ = ["EmbeddedPlatform", "PlatformRefused", "embedded_platform"]

AGENCY_ID = "AGENCY"
REGULATOR_ID = "REGULATOR"


class PlatformRefused(Exception):
    """The platform answered a scenario's inspection or regulator action with an error."""


@define
class EmbeddedPlatform:
    app: PlatformApp
    url: str
    unit_code: str
    unit_key: str  # what the floor's platform client signs with (party = unit_code)
    stations: frozenset[str]
    agency_key: str
    regulator_key: str

    def set_mode(self, mode: str, seconds: float | None = None) -> None:
        """The `platform` step: up, down, error_5xx, drop_response, slow (also throttle)."""
        self.app.faults.set(mode, seconds)

    async def _post(self, party: str, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, auth=SigningAuth(party, key)) as client:
            r = await client.post(path, json=body)
        if r.status_code != 200:
            raise PlatformRefused(f"{path}: {r.status_code} {r.text}")
        return r.json()

    async def inspect(
        self, cylinder: str, result: str, next_inspection: dt.date | None = None, agency: str | None = None
    ) -> dict[str, Any]:
        """The `inspect` step: an inspection agency posts a periodic-inspection result."""
        body: dict[str, Any] = {"cylinder": cylinder, "result": result}
        if next_inspection is not None:
            body["next_inspection"] = next_inspection.isoformat()
        if agency:
            body["agency"] = agency
        return await self._post(AGENCY_ID, self.agency_key, "/v1/inspections", body)

    async def regulate(self, action: str, target: str) -> dict[str, Any]:
        """The `regulator` step: `target` is the unit code, one of its station ids, or a cylinder code."""
        body: dict[str, Any] = {"action": action}
        if action in ("disable", "enable"):
            body["unit"] = self.unit_code
            if target != self.unit_code:
                body["station"] = target
        else:
            body["cylinder"] = target
        return await self._post(REGULATOR_ID, self.regulator_key, "/v1/regulator/actions", body)


@asynccontextmanager
async def embedded_platform(
    db_url: str,
    *,
    unit_code: str,
    short_name: str,
    stations: Iterable[str],
    archives: Iterable[CylinderArchive],
    operators: Iterable[Operator],
    today: dt.date,
    on_record: OnRecord | None = None,
) -> AsyncIterator[EmbeddedPlatform]:
    """A fresh platform on `db_url` holding the scenario's registry, served on 127.0.0.1."""
    store = open_store(db_url, KeySeal.generate())
    station_ids = frozenset(stations)
    try:
        with store.transaction() as conn:
            unit_key = add_unit(conn, store.seal, unit_code, short_name)
            agency_key = add_party(conn, store.seal, AGENCY_ID, "agency", "检验机构")
            regulator_key = add_party(conn, store.seal, REGULATOR_ID, "regulator", "监管部门")
            at = utc_now()
            register_stations(conn, unit_code, {"stations": [{"id": s} for s in sorted(station_ids)]}, at)
            register_operators(conn, unit_code, {"operators": [operator_to_row(o) for o in operators]}, at)
            seed_archives(conn, archives, at)
        app = PlatformApp(store, today=lambda: today, on_record=on_record)
        # The scenario's inspections and regulator actions reach the platform whatever the floor sees.
        app.faults.exempt.update((AGENCY_ID, REGULATOR_ID))
        async with running_platform(app) as url:
            yield EmbeddedPlatform(app, url, unit_code, unit_key, station_ids, agency_key, regulator_key)
    finally:
        store.close()
