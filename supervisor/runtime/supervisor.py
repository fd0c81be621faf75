"""A supervisor: starts children in order, restarts them by policy, gives up past an intensity.

Every child runs in its own task and cancel scope inside the supervisor's nursery. All decisions
are made by one loop (`_decide`) that receives what happened (a child exited, a backoff ran out, a
maintenance command), so the state is never touched concurrently. Children start in order
(`nursery.start`, so each is ready before the next starts) and stop in reverse order. Only
`Exception` counts as a crash: `Cancelled` and `KeyboardInterrupt` are never swallowed.

Two synchronous hooks serve the safety hook (permit.py): `on_transition(name, state)` on every
health change of a child, and `on_down(name)` in the very task step in which a child's body ends
(crash or return) and before a stop is asked of it. The decision loop runs a scheduling step later;
without `on_down`, a valve actor could energise the permit in between, with its scale already dead.
"""

from __future__ import annotations

import inspect
import math
import random
import traceback
from collections import deque
from collections.abc import Callable, Sequence

import trio
from attrs import define, evolve, field, frozen

from supervisor.runtime.bus import EventBus
from supervisor.runtime.health import ActorHealth, HealthState
from supervisor.runtime.spec import Backoff, ChildSpec, Intensity, Restart, Strategy

__all__ = ["ChildView", "NotRunning", "Supervisor", "SupervisorGaveUp"]

DEFAULT_INTENSITY = Intensity()
DEFAULT_BACKOFF = Backoff()


class SupervisorGaveUp(Exception):
    """Restart intensity exceeded: the supervisor stopped its children and fails upward."""


class NotRunning(Exception):
    """A command for a supervisor that is not running (stopped, or gave up meanwhile)."""


@frozen
class ChildView:
    """A read-only snapshot of one child, for the maintenance tree."""

    health: ActorHealth
    children: tuple[ChildView, ...] = ()


@define
class _Child:
    spec: ChildSpec
    health: ActorHealth
    scope: trio.CancelScope | None = None
    done: trio.Event = field(factory=trio.Event)
    generation: int = 0
    stopping: bool = False
    attempt: int = 0  # consecutive restart attempts since it last ran cleanly


@frozen
class _Exited:
    name: str
    generation: int
    error: BaseException | None


@frozen
class _RestartDue:
    names: tuple[str, ...]
    generation: tuple[int, ...]


@define
class _Command:
    action: str  # restart | stop
    name: str
    done: trio.Event = field(factory=trio.Event)
    refused: str | None = None  # set when the supervisor ended before carrying it out


class Supervisor:
    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec],
        *,
        bus: EventBus,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        intensity: Intensity = DEFAULT_INTENSITY,
        backoff: Backoff = DEFAULT_BACKOFF,
        rng: random.Random | None = None,
        on_transition: Callable[[str, HealthState], None] | None = None,
        on_give_up: Callable[[str, BaseException], None] | None = None,
        on_down: Callable[[str], None] | None = None,
    ) -> None:
        names = [c.name for c in children]
        if len(set(names)) != len(names):
            raise ValueError(f"supervisor {name}: duplicate child names {names}")
        self.name = name
        self.strategy = strategy
        self.intensity = intensity
        self.backoff = backoff
        self._bus = bus
        self._rng = rng or random.Random()
        self._on_transition = on_transition
        self._on_give_up = on_give_up
        self._on_down = on_down
        self._children = {c.name: _Child(c, ActorHealth(c.name, HealthState.STOPPED)) for c in children}
        self._order = names
        self._restarts: deque[float] = deque()
        # Unbounded: a child's exit is reported with send_nowait from its own task, which must never
        # fail; what can be queued is bounded by the children and the callers waiting on commands.
        self._events_send, self._events = trio.open_memory_channel[_Exited | _RestartDue | _Command](math.inf)
        self._nursery: trio.Nursery | None = None
        self._gave_up: SupervisorGaveUp | None = None
        self.nested: dict[str, Supervisor] = {}  # child name → supervisor, for the maintenance tree

    # ---- what maintenance and tests read -------------------------------------------------

    @property
    def running(self) -> bool:
        return self._nursery is not None

    def names(self) -> tuple[str, ...]:
        return tuple(self._order)

    def health(self, name: str) -> ActorHealth:
        return self._children[name].health

    def view(self) -> tuple[ChildView, ...]:
        return tuple(
            ChildView(_with_link(self._children[n]), self.nested[n].view() if n in self.nested else ())
            for n in self._order
        )

    def add_child(self, spec: ChildSpec) -> None:
        """One more child, started after the others; only before the supervisor runs."""
        if self.running or spec.name in self._children:
            raise ValueError(f"supervisor {self.name}: cannot add {spec.name} (running, or a duplicate)")
        self._children[spec.name] = _Child(spec, ActorHealth(spec.name, HealthState.STOPPED))
        self._order.append(spec.name)

    def adopt(self, child_name: str, sup: Supervisor) -> None:
        """Record that `child_name` is itself a supervisor, so the tree can be walked."""
        self.nested[child_name] = sup

    # ---- maintenance commands --------------------------------------------------------------

    async def restart_child(self, name: str) -> None:
        """Restart a child now (a failed one too), with a fresh restart history."""
        await self._command("restart", name)

    async def stop_child(self, name: str) -> None:
        await self._command("stop", name)

    async def _command(self, action: str, name: str) -> None:
        if name not in self._children:
            raise KeyError(name)
        if self._nursery is None:
            raise NotRunning(f"{self.name} is not running")
        cmd = _Command(action, name)
        await self._events_send.send(cmd)
        await cmd.done.wait()
        if cmd.refused is not None:
            raise NotRunning(cmd.refused)

    # ---- the loop --------------------------------------------------------------------------

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._gave_up = None  # a supervisor restarted by maintenance starts afresh
        self._restarts.clear()
        for child in self._children.values():
            child.attempt = 0
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                for name in self._order:
                    await self._start(name)
                task_status.started()
                async for event in self._events:
                    await self._decide(event)
                    if self._gave_up is not None:
                        break
            finally:
                # Children are shielded from our own cancellation so that they stop here, in
                # reverse start order, each within its shutdown timeout.
                with trio.CancelScope(shield=True):
                    await self._stop(self._order)
                for child in self._children.values():
                    if child.health.state not in (HealthState.FAILED, HealthState.STOPPED):
                        self._set(
                            child, ActorHealth(child.spec.name, HealthState.STOPPED, child.health.restarts)
                        )
                nursery.cancel_scope.cancel()  # pending backoff timers
                self._nursery = None
                self._refuse_pending()
        if self._gave_up is not None:
            raise self._gave_up

    def _refuse_pending(self) -> None:
        """Commands that arrived too late: their callers must not wait forever."""
        while True:
            try:
                event = self._events.receive_nowait()
            except trio.WouldBlock:
                return
            if isinstance(event, _Command):
                event.refused = f"{self.name} stopped before it could {event.action} {event.name}"
                event.done.set()

    async def _decide(self, event: _Exited | _RestartDue | _Command) -> None:
        if isinstance(event, _Command):
            await self._handle_command(event)
        elif isinstance(event, _RestartDue):
            for name, gen in zip(event.names, event.generation, strict=True):
                child = self._children[name]
                if child.generation == gen and child.health.state == HealthState.RESTARTING:
                    await self._start(name)
        else:
            await self._handle_exit(event)

    async def _handle_command(self, cmd: _Command) -> None:
        child = self._children[cmd.name]
        try:
            await self._stop([cmd.name])
            if cmd.action == "restart":
                self._restarts.clear()
                child.attempt = 0
                await self._start(cmd.name)
        except BaseException:
            cmd.refused = f"{self.name} stopped while it was to {cmd.action} {cmd.name}"
            raise
        finally:
            cmd.done.set()  # the caller never waits on a supervisor that is gone

    async def _handle_exit(self, ev: _Exited) -> None:
        child = self._children[ev.name]
        if ev.generation != child.generation or child.stopping:
            return  # a stop we asked for, or a stale report
        crashed = ev.error is not None
        restarts = child.health.restarts
        if not crashed and child.spec.restart != Restart.PERMANENT:
            self._set(child, ActorHealth(ev.name, HealthState.STOPPED, restarts))
            return
        error_line, tb = _describe(ev.error)
        if crashed and child.spec.restart == Restart.TEMPORARY:
            self._set(child, ActorHealth(ev.name, HealthState.FAILED, restarts, error_line, tb))
            return
        now = trio.current_time()
        self._restarts.append(now)
        while self._restarts and self._restarts[0] < now - self.intensity.period_s:
            self._restarts.popleft()
        if len(self._restarts) > self.intensity.max_restarts:
            await self._give_up(child, ev.error or RuntimeError(f"{ev.name} exited"), error_line, tb)
            return
        # Which children go down with it, by strategy (they restart in start order).
        index = self._order.index(ev.name)
        if self.strategy == Strategy.ONE_FOR_ALL:
            group = list(self._order)
        elif self.strategy == Strategy.REST_FOR_ONE:
            group = self._order[index:]
        else:
            group = [ev.name]
        await self._stop([n for n in group if n != ev.name])
        child.attempt += 1
        delay = self.backoff.delay(child.attempt, self._rng)
        for n in group:
            c = self._children[n]
            c.generation += 1
            self._set(
                c,
                ActorHealth(
                    n, HealthState.RESTARTING, c.health.restarts + 1,
                    error_line if n == ev.name else f"restarted with {ev.name}",
                    tb if n == ev.name else None, child.attempt, delay,
                ),
            )  # fmt: skip
        due = _RestartDue(tuple(group), tuple(self._children[n].generation for n in group))
        assert self._nursery is not None
        self._nursery.start_soon(self._after, delay, due)

    async def _after(self, delay: float, due: _RestartDue) -> None:
        await trio.sleep(delay)
        await self._events_send.send(due)

    async def _give_up(self, child: _Child, error: BaseException, line: str | None, tb: str | None) -> None:
        await self._stop([n for n in self._order if n != child.spec.name])
        self._set(child, ActorHealth(child.spec.name, HealthState.FAILED, child.health.restarts, line, tb))
        if self._on_give_up is not None:
            self._on_give_up(child.spec.name, error)
        gave_up = SupervisorGaveUp(
            f"{self.name}: {child.spec.name} restarted more than {self.intensity.max_restarts} time(s) "
            f"in {self.intensity.period_s} s; last error: {line}"
        )
        gave_up.__cause__ = error
        self._gave_up = gave_up

    # ---- starting and stopping ---------------------------------------------------------------

    async def _start(self, name: str) -> None:
        child = self._children[name]
        child.generation += 1
        child.stopping = False
        child.done = trio.Event()
        self._set(child, ActorHealth(name, HealthState.STARTING, child.health.restarts))
        assert self._nursery is not None
        await self._nursery.start(self._run_child, child, child.generation)

    async def _run_child(self, child: _Child, generation: int, task_status: trio.TaskStatus[None]) -> None:
        started = False  # the child called started()
        me = trio.lowlevel.current_task()

        class _Status:
            def started(self, value: object = None) -> None:
                nonlocal started
                if started:
                    raise RuntimeError(f"{child.spec.name} called started() twice")
                started = True
                task_status.started()
                if me.parent_nursery is not outer._nursery:
                    # trio did not move the task: `start` was cancelled (this supervisor is being
                    # stopped), so the child stays under it, unshielded, and is cancelled with it.
                    return
                # Now a child of ours: the parent's cancellation reaches it only through `_stop`,
                # in reverse start order. (Shielding it earlier would make a cancelled `start`
                # wait for it forever.)
                scope.shield = True
                # RUNNING only after the child said it is ready.
                outer._set(child, ActorHealth(child.spec.name, HealthState.RUNNING, child.health.restarts))

        outer = self
        error: BaseException | None = None
        try:
            with trio.CancelScope() as scope:
                child.scope = scope
                try:
                    await child.spec.run(_Status())
                except Exception as exc:  # a crash; Cancelled and KeyboardInterrupt pass through
                    error = exc
        finally:
            if self._on_down is not None:
                self._on_down(child.spec.name)  # no checkpoint between the body's end and this
            child.done.set()
            if not started:
                task_status.started()  # let nursery.start return; the exit below reports the crash
        if error is None and not started and not child.stopping:
            error = RuntimeError(f"{child.spec.name} returned before it started")
        if error is None and child.health.state == HealthState.RUNNING and not child.stopping:
            child.attempt = 0
        self._events_send.send_nowait(_Exited(child.spec.name, generation, error))

    async def _stop(self, names: Sequence[str]) -> None:
        """Stop children in reverse start order, each within its shutdown timeout."""
        for name in reversed([n for n in self._order if n in names]):
            child = self._children[name]
            if child.scope is None or child.done.is_set():
                if child.health.state == HealthState.RESTARTING:
                    child.generation += 1  # cancel the pending restart
                    self._set(child, ActorHealth(name, HealthState.STOPPED, child.health.restarts))
                continue
            child.stopping = True
            if self._on_down is not None:
                self._on_down(name)  # down from now: its shutdown may take a while
            child.scope.cancel()
            with trio.move_on_after(child.spec.shutdown_timeout_s):
                await child.done.wait()
            if child.done.is_set():
                self._set(child, ActorHealth(name, HealthState.STOPPED, child.health.restarts))
            else:
                # A task cannot be killed: say so, and go on stopping the others in order. The
                # nursery still waits for it at the very end (a second signal exits at once).
                error = f"did not stop within {child.spec.shutdown_timeout_s} s"
                self._set(child, ActorHealth(name, HealthState.FAILED, child.health.restarts, error))

    def _set(self, child: _Child, health: ActorHealth) -> None:
        if health == child.health:
            return
        child.health = health
        if self._on_transition is not None:
            self._on_transition(health.actor, health.state)
        self._bus.publish(health.event())


def _with_link(child: _Child) -> ActorHealth:
    """A device actor's health with its link as the actor sees it now (`link_state`: connecting,
    up, lost), read from the actor its start function belongs to; other actors have none."""
    start = inspect.unwrap(child.spec.start)  # (a wrapper, e.g. a simulator's fault, says what it wraps)
    link = getattr(getattr(start, "__self__", None), "link_state", None)
    if not isinstance(link, str) or child.health.state != HealthState.RUNNING:
        return child.health
    return evolve(child.health, link=link)


def _describe(error: BaseException | None) -> tuple[str | None, str | None]:
    if error is None:
        return None, None
    # Reduce a single-exception group (trio's strict groups) to what happened.
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    line = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return line, "".join(traceback.format_exception(error))
