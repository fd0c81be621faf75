"""A scenario's city platform (docs/scenarios.md `[platform]`): the reference platform in-process on a
loopback port, the floor's platform sync pointed at it, and the steps platform / inspect /
regulator / wait_sync.

The platform's ground truth goes to the event file as it commits: `platform.stored` the first time
a record is stored, `platform.duplicate` each time a stored record is sent again. An inspection or
regulator action the platform refuses (a scrapped cylinder inspected again, say) is written as
`scenario.refused` with the platform's answer, and the script goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from attrs import define

from domain.backoff import Backoff
from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from platform_server.changes import latest_seq
from platform_server.embedded import EmbeddedPlatform, PlatformRefused, embedded_platform
from simulator.events import EventFile
from simulator.scenario import Scenario, Step
from supervisor.config import PlatformConfig
from supervisor.floor import Floor
from supervisor.storage.database import Database
from supervisor.storage.outbox import outbox_backlog

__all__ = ["ScenarioPlatform", "scenario_platform"]

# Outages in a scenario last seconds: the sync's backoff is capped so that it notices the platform
# is back within a couple of seconds (a plant's default cap is minutes).
_BACKOFF = Backoff(initial_s=0.1, max_s=2.0)


@define
class ScenarioPlatform:
    platform: EmbeddedPlatform
    sync_settings: SyncSettings
    events: EventFile
    sync: PlatformSync | None = None  # the floor's, once it runs

    async def do(self, step: Step, floor: Floor, db: Database) -> None:
        a = step.args
        try:
            match step.do:
                case "platform":
                    self.platform.set_mode(a["mode"], a["seconds"] or None)
                case "inspect":
                    await self.platform.inspect(a["cylinder"], a["result"], a["next_inspection"],
                                                a["agency"] or None)  # fmt: skip
                case "regulator":
                    await self.platform.regulate(a["action"], a["target"])
                case "wait_sync":
                    if not await self._wait_sync(floor, db, a["timeout_s"]):
                        self.events.write("scenario.timeout", {"index": step.index, "do": step.do})
        except PlatformRefused as exc:
            self.events.write("scenario.refused", {"index": step.index, "do": step.do, "detail": str(exc)})

    async def _wait_sync(self, floor: Floor, db: Database, timeout_s: float) -> bool:
        """Until every record the floor made is at the platform and the floor has pulled every
        registry change there is now; False on timeout."""
        sync = self.sync
        assert sync is not None
        store, unit = self.platform.app.store, self.platform.unit_code
        latest = await store.read(lambda conn: latest_seq(conn, unit))
        sync.nudge()
        sync.pull_soon()
        with trio.move_on_after(timeout_s):
            while True:
                if floor.sink.backlog == 0 and sync.cursor >= latest:
                    backlog = await trio.to_thread.run_sync(_outbox_backlog, db)
                    if backlog == 0:
                        return True
                    sync.nudge()
                await trio.sleep(0.05)
        return False


def _outbox_backlog(db: Database) -> int:
    with db.reading() as conn:
        return outbox_backlog(conn)


def _on_record(events: EventFile) -> Callable[[str, str, str], None]:
    def record(record_id: str, kind: str, status: str) -> None:
        fields: dict[str, Any] = {"record_id": record_id}
        if status == "stored":
            fields["kind"] = kind
        events.write(f"platform.{status}", fields)

    return record


@asynccontextmanager
async def scenario_platform(
    scenario: Scenario, events: EventFile, db_url: str | None, directory: Path
) -> AsyncIterator[ScenarioPlatform | None]:
    """The scenario's platform while the block runs (None without `[platform]`); its database is
    `db_url`, else a fresh SQLite file in `directory`."""
    spec = scenario.platform
    if spec is None:
        yield None
        return
    async with embedded_platform(
        db_url or f"sqlite:///{directory / 'platform.db'}",
        unit_code=scenario.unit_code,
        short_name=scenario.short_name,
        stations=[s.id for s in scenario.stations],
        archives=scenario.cylinders,
        operators=scenario.operators,
        today=scenario.today,
        on_record=_on_record(events),
    ) as platform:
        settings = SyncSettings(
            PlatformConfig(platform.url, sync_interval_s=spec.sync_interval_s), scenario.unit_code,
            platform.unit_key, backoff=_BACKOFF, timeout_s=5.0,
        )  # fmt: skip
        yield ScenarioPlatform(platform, settings, events)
