"""The supervisor on virtual time: order, restarts with backoff, intensity, strategies, escalation."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from domain.backoff import Jitter
from supervisor.runtime.bus import EventBus
from supervisor.runtime.health import HealthState
from supervisor.runtime.spec import Backoff, ChildSpec, Intensity, Restart, Strategy
from supervisor.runtime.supervisor import Supervisor, SupervisorGaveUp


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def __call__(self, line: str) -> None:
        self.lines.append((trio.current_time(), line))

    def only(self, *prefixes: str) -> list[str]:
        return [line for _, line in self.lines if line.startswith(prefixes)]


def actor(name: str, log: Log, crashes: list[float] | None = None, exit_after: float | None = None):
    """An actor that logs start/stop, and crashes at the given run times (one per start)."""
    crashes = list(crashes or [])

    async def run(task_status: trio.TaskStatus[None]) -> None:
        log(f"start {name}")
        task_status.started()
        try:
            if crashes:
                await trio.sleep(crashes.pop(0))
                raise OSError(f"{name} lost its device")
            if exit_after is not None:
                await trio.sleep(exit_after)
                return
            await trio.sleep_forever()
        finally:
            log(f"stop {name}")

    return run


def health_states(bus_events: list, name: str) -> list[str]:
    return [e.fields["state"] for e in bus_events if e.type == "actor.health" and e.fields["actor"] == name]


async def collect(bus: EventBus, into: list, task_status=trio.TASK_STATUS_IGNORED) -> None:
    sub = bus.subscribe("test", coalesce=False)
    task_status.started()
    async for event in sub:
        into.append(event)


async def test_children_start_in_order_and_stop_in_reverse(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), EventBus()
    sup = Supervisor(
        "S1", [ChildSpec(n, actor(n, log)) for n in ("S1.scale", "S1.valve", "S1.scanner")], bus=bus
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        assert [sup.health(n).state for n in ("S1.scale", "S1.valve", "S1.scanner")] == ["running"] * 3
        nursery.cancel_scope.cancel()
    assert [line for _, line in log.lines] == [
        "start S1.scale", "start S1.valve", "start S1.scanner",
        "stop S1.scanner", "stop S1.valve", "stop S1.scale",
    ]  # fmt: skip


async def test_a_crash_is_restarted_after_a_backoff_and_reported(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log, bus, events = Log(), EventBus(), []
    backoff = Backoff(initial_s=1.0, jitter=Jitter.NONE)
    sup = Supervisor("S1", [ChildSpec("S1.scale", actor("S1.scale", log, crashes=[10.0]))], bus=bus,
                     backoff=backoff)  # fmt: skip
    async with trio.open_nursery() as nursery:
        await nursery.start(collect, bus, events)
        await nursery.start(sup.run)
        await trio.sleep(20)
        nursery.cancel_scope.cancel()
    starts = [t for t, line in log.lines if line == "start S1.scale"]
    assert starts[1] - starts[0] == pytest.approx(11.0)  # ran 10 s, crashed, waited the 1 s backoff
    assert health_states(events, "S1.scale")[:5] == [
        "starting",
        "running",
        "restarting",
        "starting",
        "running",
    ]
    restarting = next(e for e in events if e.fields.get("state") == "restarting")
    assert restarting.fields["error"] == "OSError: S1.scale lost its device"
    assert restarting.fields["restarts"] == 1


async def test_past_the_intensity_the_supervisor_gives_up(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), EventBus()
    gave_up: list[str] = []
    sup = Supervisor(
        "S1",
        [ChildSpec("S1.scale", actor("S1.scale", log, crashes=[0.1] * 10)),
         ChildSpec("S1.valve", actor("S1.valve", log))],
        bus=bus, intensity=Intensity(2, 5.0), backoff=Backoff(initial_s=0.1, jitter=Jitter.NONE),
        on_give_up=lambda name, _e: gave_up.append(name),
    )  # fmt: skip
    with pytest.raises(SupervisorGaveUp, match=r"S1\.scale restarted more than 2 time"):
        await sup.run()
    assert gave_up == ["S1.scale"]
    assert sup.health("S1.scale").state == HealthState.FAILED
    assert sup.health("S1.scale").traceback is not None
    assert sup.health("S1.valve").state == HealthState.STOPPED
    assert log.only("start S1.scale").__len__() == 3  # the first run and two restarts


async def test_slow_crashes_stay_within_the_intensity(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), EventBus()
    sup = Supervisor("S1", [ChildSpec("S1.scale", actor("S1.scale", log, crashes=[6.0] * 4))], bus=bus,
                     intensity=Intensity(1, 5.0))  # fmt: skip
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(40)
        assert sup.health("S1.scale").state == HealthState.RUNNING
        assert sup.health("S1.scale").restarts == 4
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        (Strategy.ONE_FOR_ONE, ["b"]),
        (Strategy.ONE_FOR_ALL, ["a", "b", "c"]),
        (Strategy.REST_FOR_ONE, ["b", "c"]),
    ],
)
async def test_strategies_restart_the_right_children(
    autojump_clock: trio.testing.MockClock, strategy: Strategy, restarted: list[str]
) -> None:
    log, bus = Log(), EventBus()
    specs = [
        ChildSpec("a", actor("a", log)),
        ChildSpec("b", actor("b", log, crashes=[1.0])),
        ChildSpec("c", actor("c", log)),
    ]
    sup = Supervisor(
        "sup", specs, bus=bus, strategy=strategy, backoff=Backoff(initial_s=0.5, jitter=Jitter.NONE)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    second_starts = [line.split()[1] for t, line in log.lines if line.startswith("start") and t > 0]
    assert second_starts == restarted  # and in start order


async def test_transient_and_temporary_policies(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), EventBus()
    specs = [
        ChildSpec("done", actor("done", log, exit_after=1.0), restart=Restart.TRANSIENT),
        ChildSpec("once", actor("once", log, crashes=[1.0]), restart=Restart.TEMPORARY),
    ]
    sup = Supervisor("sup", specs, bus=bus)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(5)
        assert sup.health("done").state == HealthState.STOPPED
        assert sup.health("once").state == HealthState.FAILED
        await sup.restart_child("once")  # maintenance brings it back
        assert sup.health("once").state == HealthState.RUNNING
        nursery.cancel_scope.cancel()
    assert len(log.only("start once")) == 2


async def test_a_crash_before_started_is_a_crash(autojump_clock: trio.testing.MockClock) -> None:
    bus = EventBus()
    attempts = 0

    async def broken(task_status: trio.TaskStatus[None]) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError("indicator refused the connection")

    sup = Supervisor("S1", [ChildSpec("S1.scale", broken)], bus=bus, intensity=Intensity(3, 60.0))
    with pytest.raises(SupervisorGaveUp):
        await sup.run()
    assert attempts == 4
    assert "ConnectionRefusedError" in (sup.health("S1.scale").error or "")


async def test_cancellation_is_never_swallowed(autojump_clock: trio.testing.MockClock) -> None:
    log, bus = Log(), EventBus()

    async def stubborn(task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            try:
                await trio.sleep_forever()
            except Exception:  # what actors do: catch Exception, never BaseException
                log("swallowed")

    sup = Supervisor("sup", [ChildSpec("x", stubborn)], bus=bus)
    with trio.move_on_after(1) as scope:
        await sup.run()
    assert scope.cancelled_caught
    assert log.lines == []


async def test_a_child_past_its_shutdown_timeout_is_reported_and_the_others_still_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log, bus = Log(), EventBus()

    async def stubborn(task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(100)  # e.g. a device call that ignores cancellation
            log("stop stubborn")

    sup = Supervisor(
        "sup",
        [ChildSpec("a", actor("a", log)), ChildSpec("stubborn", stubborn, shutdown_timeout_s=1.0)],
        bus=bus,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        nursery.cancel_scope.cancel()
    assert [(t, line) for t, line in log.lines if line.startswith("stop")] == [
        (pytest.approx(1.0), "stop a"),  # not held up by the stubborn one beyond its timeout
        (pytest.approx(100.0), "stop stubborn"),
    ]
    assert sup.health("stubborn").state == HealthState.FAILED
    assert sup.health("stubborn").error == "did not stop within 1.0 s"
    assert sup.health("a").state == HealthState.STOPPED


async def test_a_supervisor_stopped_while_a_child_is_starting_stops_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Cancelled in the middle of a restart (the child still connecting): no deadlock, no wait."""
    log, bus = Log(), EventBus()
    runs = 0

    async def slow_to_start(task_status: trio.TaskStatus[None]) -> None:
        nonlocal runs
        runs += 1
        if runs > 1:
            await trio.sleep(5)  # e.g. opening a device that does not answer yet
        task_status.started()
        log("running")
        await trio.sleep(1)
        raise OSError("device lost")

    sup = Supervisor("S1", [ChildSpec("S1.scale", slow_to_start)], bus=bus,
                     backoff=Backoff(initial_s=0.1, jitter=Jitter.NONE))  # fmt: skip
    with trio.fail_after(100):  # a deadlock would hang here, not fail
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await trio.sleep(2)  # the restart began at 1.1 and is waiting on the device
            nursery.cancel_scope.cancel()
    assert trio.current_time() == pytest.approx(2.0)
    assert [line for _, line in log.lines] == ["running"]
    assert sup.health("S1.scale").state == HealthState.STOPPED
