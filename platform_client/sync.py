"""The platform sync: a supervised actor that runs unattended beside the floor (docs/architecture.md "Platform
sync").

Two loops share one signed HTTP client:
- **up**: the outbox, oldest first, in batches. Each record the platform answers `stored` or
  `duplicate` is marked sent; one it `rejected` is dead-lettered with the platform's reason (shown
  in the console, never retried blindly). No usable answer (down, timeout, lost reply, 429, 5xx)
  leaves the batch pending and waits — exponential backoff with jitter, at least `Retry-After` —
  then sends it again (halving the batch while requests time out): the platform keys on record ids,
  so a batch stored before its reply was lost comes back `duplicate` and is stored once. A record is
  marked only after the platform answered for it, so killing the floor at any moment loses nothing
  and duplicates nothing at the platform. New records wake the loop at once (`nudge`); otherwise it
  looks every `sync_interval_s`.
- **down**: registry changes by cursor every `sync_interval_s`, a page at a time: applied to the
  database with the cursor in one transaction, then to the interlock's `FloorState`, so a
  regulator's disable stops permits within one interval and an inspection pass makes an overdue
  cylinder fillable again; offline, the floor decides from the last registry it has.

The sync never stops the floor: whatever goes wrong (platform, network, the database busy, a change
it cannot read) is reported — `sync.batch` / `sync.registry` events, `figures()` for the console —
and tried again later. Filling never waits on it: records are durable in the outbox first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import trio

from domain.alarm_kinds import AlarmKind
from domain.alarm_notices import AlarmNotice, raised
from domain.events import SyncBatch, SyncRegistry
from domain.times import utc_iso
from platform_client.alarms import KEY_REFUSED
from platform_client.api import PlatformApi, Refused, Unavailable, open_client, tls_context
from platform_client.backoff import RetryBackoff
from platform_client.registry_changes import (
    ArchiveUpdate,
    BadChange,
    DisableUpdate,
    OperatorUpdate,
    RegistryUpdate,
    read_change,
)
from platform_client.settings import SyncSettings
from platform_client.sync_store import OutboxFigures, SyncStore
from supervisor.runtime import EventBus
from supervisor.station.floor import FloorState
from supervisor.storage.database import Database
from supervisor.storage.outbox import OutboxItem

__all__ = ["PlatformSync"]


class PlatformSync:
    def __init__(
        self,
        settings: SyncSettings,
        db: Database,
        state: FloorState,
        bus: EventBus,
        *,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
        alarm: Callable[[AlarmNotice], None] = lambda _notice: None,
        key_refused: AlarmNotice | None = None,
    ) -> None:
        self.settings = settings
        self._tls = tls_context(settings)  # a bad CA file fails the start-up, not the first upload
        self.store = SyncStore(db)
        self.state = state
        self.bus = bus
        self._rng = rng or random.Random()
        self._wall = wall_clock
        self._alarm = alarm  # the floor's alarm desk: a refused key is an alarm, not only a figure
        # Raised and not cleared (by this run, or an earlier one: the floor's board says so); the
        # first request that goes through clears it.
        self._key_refused = key_refused
        self._wake = trio.Event()
        self._pull_now = trio.Event()
        # Halved when the platform says a batch is too large (413, for good) or a request times out
        # (a slow link: doubled back after each full batch that goes through).
        self.batch_size = settings.platform.batch_size
        # What the console shows (`figures`):
        self.outbox = OutboxFigures(0, 0, ())
        self.status = "starting"  # of the last upload: ok, or why not (unreachable, http_503, ...)
        self.detail = ""
        self.last_success: float | None = None  # epoch seconds of the last answered upload
        self.registry_status = "starting"
        self.registry_detail = ""
        self.cursor = 0
        self.latest: int | None = None  # the platform's newest change for us, at the last pull
        self.registry_at: float | None = None  # epoch seconds of the last complete pull
        self.uploaded = 0  # records the platform accepted in this run

    # -- for the floor, the console and the scenario runner ----------------------------------

    def nudge(self) -> None:
        """New records are in the outbox: upload now rather than at the next interval."""
        self._wake.set()

    def pull_soon(self) -> None:
        """Pull registry changes now rather than at the next interval."""
        self._pull_now.set()

    @property
    def registry_current(self) -> bool:
        return self.latest is not None and self.cursor >= self.latest

    def figures(self) -> dict[str, Any]:
        return {
            "backlog": self.outbox.backlog,
            "dead_letters": self.outbox.dead_letters,
            "recent_dead_letters": [
                {"record_id": d.record_id, "kind": d.kind, "reason": d.reason}
                for d in self.outbox.recent_dead_letters
            ],
            "last_success": self.last_success,
            "status": self.status,
            "detail": self.detail,
            "batch_size": self.batch_size,
            "registry_status": self.registry_status,
            "registry_detail": self.registry_detail,
            "cursor": self.cursor,
            "latest": self.latest,
            "registry_current": self.registry_current,
            "registry_at": self.registry_at,
        }

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with open_client(self.settings, self._tls) as client, trio.open_nursery() as nursery:
            api = PlatformApi(client)
            nursery.start_soon(self._upload_loop, api)
            nursery.start_soon(self._registry_loop, api)
            task_status.started()

    # -- up: the outbox ----------------------------------------------------------------------

    async def _upload_loop(self, api: PlatformApi) -> None:
        backoff = RetryBackoff(self.settings.backoff, self._rng)
        with contextlib.suppress(Exception):  # (a busy database: the first batch reads them anyway)
            # What waits, before the first batch: not "0 waiting" while a backlog of days is read.
            self.outbox = await self.store.figures()
        while True:
            self._wake = trio.Event()  # before reading: a record stored meanwhile still wakes us
            try:
                delay = await self._upload_once(api, backoff)
            except Exception as exc:  # the database busy or broken, or a bug: never the floor's end
                self._report("error", f"{type(exc).__name__}: {exc}")
                delay = backoff.failed()
            if delay is None:
                with trio.move_on_after(self.settings.platform.sync_interval_s):
                    await self._wake.wait()
            else:
                await trio.sleep(delay)

    async def _upload_once(self, api: PlatformApi, backoff: RetryBackoff) -> float | None:
        """One batch; the seconds to wait before the next (None: nothing was pending)."""
        items = await self.store.pending(self.batch_size)
        if not items:
            self.outbox = await self.store.figures()
            return None
        ids = [i.record_id for i in items]
        try:
            outcomes = await api.upload(items)
        except Unavailable as exc:
            delay = backoff.failed(exc.retry_after_s)
            if exc.status == "timeout" and self.batch_size > 1:
                # A link too slow for the batch would time out on it forever: send less at a time.
                self.batch_size = max(1, self.batch_size // 2)
            self.outbox = await self.store.failed(ids, self._wall_iso(delay))
            self._batch_event(len(items), 0, 0, exc.status, exc.detail)
            return delay
        except Refused as exc:
            return await self._refused(items, exc, backoff)
        accepted = [o.record_id for o in outcomes.values() if o.accepted]
        rejected = {o.record_id: o.dead_letter_text() for o in outcomes.values() if not o.accepted}
        self.outbox = await self.store.settle(accepted, rejected)
        self.uploaded += len(accepted)
        self.last_success = self._wall()
        duplicates = sum(1 for o in outcomes.values() if o.status == "duplicate")
        unanswered = len(items) - len(outcomes)
        if unanswered:  # the platform skipped some: they stay pending; don't spin on them
            self._batch_event(len(items), len(accepted), len(rejected), "partial",
                              f"{unanswered} record(s) not answered", duplicates)  # fmt: skip
            return backoff.failed()
        backoff.succeeded()
        self._key_accepted()
        if len(items) == self.batch_size:  # a full batch went through: back towards the setting
            self.batch_size = min(self.settings.platform.batch_size, self.batch_size * 2)
        self._batch_event(len(items), len(accepted), len(rejected), "ok", "", duplicates)
        return 0.0

    async def _refused(self, items: Sequence[OutboxItem], exc: Refused, backoff: RetryBackoff) -> float:
        status = f"http_{exc.http_status}"
        if exc.http_status == 413 and self.batch_size > 1:
            self.batch_size = max(1, self.batch_size // 2)
            self._batch_event(len(items), 0, 0, status, f"batch too large: now {self.batch_size}")
            return 0.0
        item = exc.item
        if exc.http_status == 422 and item is not None and 0 <= item < len(items):
            # The platform names one record it cannot even read: that one, not the batch, is dead.
            reason = ": ".join(p for p in (exc.code, exc.field, exc.detail) if p)
            self.outbox = await self.store.settle([], {items[item].record_id: reason})
            self._batch_event(len(items), 0, 1, status, reason)
            return 0.0
        # Credentials refused (401/403) or a request the platform will not take: nothing a retry
        # changes until someone fixes the key or the platform; keep asking, slowly, and say why,
        # with what waits now (records stored since the last count wait too).
        self.outbox = await self.store.figures()
        self._batch_event(len(items), 0, 0, status, f"{exc.code}: {exc.detail}")
        return backoff.failed()

    def _batch_event(self, sent: int, accepted: int, rejected: int, status: str, detail: str,
                     duplicates: int = 0) -> None:  # fmt: skip
        self._report(status, detail)
        self.bus.publish(SyncBatch(
            sent=sent, accepted=accepted, rejected=rejected, status=status, duplicates=duplicates,
            detail=detail, backlog=self.outbox.backlog, dead_letters=self.outbox.dead_letters,
            last_success=self.last_success,
        ))  # fmt: skip

    def _key_refused_now(self, status: str) -> None:
        if self._key_refused is None:
            key_env = self.settings.platform.key_env
            self._key_refused = raised(KEY_REFUSED, AlarmKind.PLATFORM_CREDENTIALS_REFUSED, None,
                                       status=status, key_env=key_env)  # fmt: skip
            self._alarm(self._key_refused)

    def _key_accepted(self) -> None:
        if self._key_refused is not None:
            self._alarm(self._key_refused.cleared())
            self._key_refused = None

    def _report(self, status: str, detail: str) -> None:
        self.status, self.detail = status, detail

    def _wall_iso(self, after_s: float) -> str:
        return utc_iso(dt.datetime.fromtimestamp(self._wall() + after_s, dt.UTC))

    # -- down: registry changes --------------------------------------------------------------

    async def _registry_loop(self, api: PlatformApi) -> None:
        interval = self.settings.platform.sync_interval_s
        cursor_known = False
        while True:
            self._pull_now = trio.Event()
            delay = interval
            try:
                if not cursor_known:  # here, not at start: a busy database must not fail the start
                    self.cursor = await self.store.cursor()
                    cursor_known = True
                await self._pull(api)
                self._key_accepted()
                self.registry_status, self.registry_detail = "ok", ""
                self.registry_at = self._wall()
            except Unavailable as exc:
                self.registry_status, self.registry_detail = exc.status, exc.detail
                delay = max(interval, exc.retry_after_s or 0.0)
            except Refused as exc:
                self.registry_status = f"http_{exc.http_status}"
                self.registry_detail = f"{exc.code}: {exc.detail}"
                if exc.http_status in (401, 403):
                    self._key_refused_now(self.registry_status)
            except BadChange as exc:  # stopped before it: the platform must mend it
                self.registry_status, self.registry_detail = "bad_change", str(exc)
            except Exception as exc:  # the database busy or broken, or a bug: never the floor's end
                self.registry_status, self.registry_detail = "error", f"{type(exc).__name__}: {exc}"
            with trio.move_on_after(delay):
                await self._pull_now.wait()

    async def _pull(self, api: PlatformApi) -> None:
        """Every page of changes after our cursor, each applied whole with its cursor."""
        while True:
            page = await api.changes(self.cursor, self.settings.registry_page)
            updates: list[RegistryUpdate] = []
            reached, bad = self.cursor, None
            for change in page.changes:
                seq = change.get("seq")
                if not isinstance(seq, int) or isinstance(seq, bool) or not reached < seq <= page.cursor:
                    bad = BadChange(seq, f"out of order after {reached}")
                    break
                try:
                    update = read_change(change, self.settings.unit_code)
                except BadChange as exc:
                    bad = exc
                    break
                if update is not None:
                    updates.append(update)
                reached = seq
            if bad is None:
                reached = page.cursor
            if reached != self.cursor:
                await self.store.apply(updates, reached)
                self._apply_to_floor(updates)
                self.cursor = reached
            self.latest = page.latest
            if page.changes:
                self.bus.publish(SyncRegistry(
                    cursor=self.cursor, changes=len(updates), latest=page.latest,
                    current=self.registry_current,
                ))  # fmt: skip
            if bad is not None:
                raise bad
            if not page.more:
                return

    def _apply_to_floor(self, updates: Sequence[RegistryUpdate]) -> None:
        for u in updates:
            if isinstance(u, ArchiveUpdate):
                self.state.put_archive(u.archive)
            elif isinstance(u, OperatorUpdate):
                self.state.put_operator(u.operator)
            elif isinstance(u, DisableUpdate):
                self.state.set_disabled(u.station, u.disabled)
