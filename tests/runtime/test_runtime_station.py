"""The safety hook, out of service on give-up, maintenance with roles and audit; and the property
that no crash schedule leaves a permit granted while the station's scale or valve actor is down;
on a whole floor, the out-of-service alarm stored as every alarm is."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.lowlevel
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from domain.events import encode
from domain.records import AuditRecord
from supervisor.runtime.bus import EventBus
from supervisor.runtime.health import HealthState
from supervisor.runtime.maintenance import Maintenance
from supervisor.runtime.spec import Intensity
from supervisor.runtime.supervisor import Supervisor
from supervisor.storage import schema as t
from tests.support.runtime_fakes import FakeStation, SafetyWatch, floor_of
from tests.support.scenario_text import BASE
from tests.support.sim_run import of, run_sim


def running(st: FakeStation, dev: str) -> bool:
    return st.runtime.supervisor.health(f"{st.sid}.{dev}").state == HealthState.RUNNING


async def test_a_scale_crash_removes_the_permit_before_the_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = EventBus()
    s1 = FakeStation("S1", bus)
    async with trio.open_nursery() as nursery:
        await nursery.start(s1.runtime.spec().run)
        s1.request_open()
        await trio.sleep(0.01)
        assert s1.valve.permit
        s1.crash("scale")
        await trio.sleep(0.01)
        assert not s1.valve.permit  # closed as the scale actor went down
        assert not running(s1, "scale")
        s1.request_open()  # an open command racing the restart is refused
        await trio.sleep(0.01)
        assert (s1.valve.permit, s1.refused) == (False, 1)
        await trio.sleep(2)
        assert running(s1, "scale")
        s1.request_open()
        await trio.sleep(0.01)
        assert s1.valve.permit
        nursery.cancel_scope.cancel()
    assert not s1.valve.permit  # stopping the station closes the valve too


async def test_the_permit_goes_in_the_same_step_as_the_crash(autojump_clock: trio.testing.MockClock) -> None:
    """Not one scheduling step with the permit held and the scale or valve actor dead, even when
    an open command and the crash arrive together."""
    bus = EventBus()
    s1 = FakeStation("S1", bus, Intensity(100, 1.0))
    watch = SafetyWatch(s1)
    trio.lowlevel.add_instrument(watch)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(s1.runtime.spec().run)
            for i in range(40):
                s1.request_open()
                await trio.sleep(0.01)
                assert s1.valve.permit
                s1.crash("scale" if i % 2 else "valve")
                s1.request_open()  # racing the crash
                await trio.sleep(2)  # backoff, restart
            nursery.cancel_scope.cancel()
    finally:
        trio.lowlevel.remove_instrument(watch)
    assert watch.violations == []
    assert s1.valve.opened >= 40


async def test_a_station_that_keeps_failing_goes_out_of_service_and_others_keep_filling(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = EventBus()
    events = []
    sub = bus.subscribe("test", coalesce=False)
    s1, s2 = FakeStation("S1", bus, Intensity(2, 30.0)), FakeStation("S2", bus)
    audit: list[AuditRecord] = []

    async def record(a: AuditRecord) -> None:
        audit.append(a)

    floor = Supervisor("floor", [s1.runtime.spec(), s2.runtime.spec()], bus=bus)
    floor.adopt("S1", s1.runtime.supervisor)
    floor.adopt("S2", s2.runtime.supervisor)
    maintenance = Maintenance(floor, {"S1": s1.runtime, "S2": s2.runtime}, record)
    async with trio.open_nursery() as nursery:
        await nursery.start(floor.run)
        for _ in range(3):
            s1.crash("valve")
            await trio.sleep(1.5)
        assert floor.health("S1").state == HealthState.FAILED
        assert s1.gate.out_of_service
        assert not s1.valve.permit
        s2.request_open()
        await trio.sleep(0.01)
        assert s2.valve.permit  # the other station still fills
        while (e := sub.receive_nowait_or_none()) is not None:
            events.append(e)
        assert any(e.type == "alarm.raised" and e.fields["station"] == "S1" for e in events)
        assert list(s1.alarms.board.alarms) == ["S1.out_of_service"]  # through the alarm desk
        assert any(e.type == "station.state" and e.fields["state"] == "out_of_service" for e in events)

        refused = await maintenance.restart("S1.valve", who="wang", role="operator")
        assert not refused.ok
        result = await maintenance.restart("S1.valve", who="li", role="maintenance")
        assert result.ok, result.message
        assert floor.health("S1").state == HealthState.RUNNING
        assert running(s1, "valve")
        assert not s1.gate.out_of_service  # back in service once all its actors run
        tree = maintenance.tree()
        assert [v.health.actor for v in tree] == ["S1", "S2"]
        assert [c.health.actor for c in tree[0].children] == ["S1.scale", "S1.valve", "S1.scanner"]
        nursery.cancel_scope.cancel()
    assert [(a.who, a.command, a.result, a.target) for a in audit] == [
        ("wang", "restart", "refused", "S1.valve"),
        ("li", "restart", "ok", "S1.valve"),
    ]


async def test_out_of_service_by_maintenance_blocks_the_permit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = EventBus()
    s1 = FakeStation("S1", bus)
    floor, maintenance, audit = floor_of(bus, s1)
    async with trio.open_nursery() as nursery:
        await nursery.start(floor.run)
        s1.request_open()
        await trio.sleep(0.01)
        assert (await maintenance.set_out_of_service("S1", True, "li", "supervisor")).ok
        assert not s1.valve.permit
        s1.request_open()
        await trio.sleep(0.01)
        assert not s1.valve.permit
        assert (await maintenance.set_out_of_service("S1", False, "li", "supervisor")).ok
        s1.request_open()
        await trio.sleep(0.01)
        assert s1.valve.permit
        nursery.cancel_scope.cancel()
    assert [a.command for a in audit] == ["out_of_service", "return_to_service"]


actions = st.lists(
    st.tuples(
        st.floats(0.0, 2.0),
        st.sampled_from(["crash scale", "crash valve", "crash scanner", "open", "open", "restart S1",
                         "restart S1.scale", "restart S1.valve"]),
    ),
    max_size=25,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(actions)
def test_no_crash_schedule_leaves_a_permit_while_scale_or_valve_is_down(
    schedule: list[tuple[float, str]],
) -> None:
    async def main() -> None:
        bus = EventBus()
        s1 = FakeStation("S1", bus, Intensity(4, 3.0))
        floor = Supervisor("floor", [s1.runtime.spec()], bus=bus)
        floor.adopt("S1", s1.runtime.supervisor)

        async def record(_a: AuditRecord) -> None:
            return None

        maintenance = Maintenance(floor, {"S1": s1.runtime}, record)
        watch = SafetyWatch(s1)
        trio.lowlevel.add_instrument(watch)

        with trio.fail_after(1000):  # virtual: a deadlock fails the example instead of hanging
            await drive(s1, maintenance, floor, schedule)
        assert watch.violations == []
        assert not s1.valve.permit

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def drive(
    s1: FakeStation, maintenance: Maintenance, floor: Supervisor, schedule: list[tuple[float, str]]
) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(floor.run)
        for delay, action in schedule:
            await trio.sleep(delay)
            verb, _, what = action.partition(" ")
            if verb == "crash":
                s1.crash(what)
            elif verb == "open":
                s1.request_open()
            else:
                await maintenance.restart(what, "li", "maintenance")
            await trio.lowlevel.checkpoint()
        await trio.sleep(3)
        nursery.cancel_scope.cancel()


async def test_invalid_commands_are_refused_with_a_reason_and_audited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = EventBus()
    s1 = FakeStation("S1", bus)
    floor, maintenance, audit = floor_of(bus, s1)
    # Not running yet: refused at once, not left waiting.
    assert (await maintenance.restart("S1", "li", "maintenance")).message == "floor is not running"
    async with trio.open_nursery() as nursery:
        await nursery.start(floor.run)
        results = [
            await maintenance.restart("S9.scale", "li", "maintenance"),
            await maintenance.restart("S1.printer", "li", "maintenance"),
            await maintenance.restart("nowhere", "li", "maintenance"),
            await maintenance.set_out_of_service("S9", True, "li", "maintenance"),
            await maintenance.set_out_of_service("S1", True, "zhao", "viewer"),
        ]
        assert not s1.gate.out_of_service  # the viewer's command did nothing
        nursery.cancel_scope.cancel()
    assert [r.message for r in results] == [
        "no actor 'S9.scale'",
        "no actor 'S1.printer'",
        "no actor or station 'nowhere'",
        "no station 'S9'",
        "role 'viewer' may not out_of_service (maintenance or supervisor only)",
    ]
    assert [(a.who, a.command, a.result, a.target) for a in audit] == [
        ("li", "restart", "refused", "S1"),
        ("li", "restart", "refused", "S9.scale"),
        ("li", "restart", "refused", "S1.printer"),
        ("li", "restart", "refused", "nowhere"),
        ("li", "out_of_service", "refused", "S9"),
        ("zhao", "out_of_service", "refused", "S1"),
    ]
    assert all(a.at.endswith("+00:00") and a.detail for a in audit)


async def test_out_of_service_by_maintenance_is_not_an_alarm_and_outlives_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bus = EventBus()
    sub = bus.subscribe("test", coalesce=False, accept=lambda e: e.type.startswith(("alarm.", "station.")))
    s1 = FakeStation("S1", bus)

    async def record(_a: AuditRecord) -> None:
        return None

    floor = Supervisor("floor", [s1.runtime.spec()], bus=bus)
    maintenance = Maintenance(floor, {"S1": s1.runtime}, record)
    async with trio.open_nursery() as nursery:
        await nursery.start(floor.run)
        await maintenance.set_out_of_service("S1", True, "li", "maintenance")
        s1.crash("scale")
        await trio.sleep(2)
        assert running(s1, "scale")
        assert s1.gate.out_of_service  # a restart does not put it back in service: maintenance does
        s1.request_open()
        await trio.sleep(0.01)
        assert not s1.valve.permit
        nursery.cancel_scope.cancel()
    events = []
    while (e := sub.receive_nowait_or_none()) is not None:
        events.append(encode(e.payload))
    assert events == [{"type": "station.state", "station": "S1", "state": "out_of_service"}]


# The scale actor raises at every start for 4 s: past its restart limit at once, the station is
# out of service; once the fault is over, maintenance restarts the station and it comes back.
KEEPS_CRASHING = """
[[step]]
do = "fault"
station = "S1"
device = "scale"
kind = "crash"
seconds = 4
[[step]]
do = "wait"
station = "S1"
for = "state:out_of_service"
timeout_s = 30
[[step]]
do = "sleep"
seconds = 5
[[step]]
do = "restart"
actor = "S1"
[[step]]
do = "wait"
station = "S1"
for = "state:idle"
timeout_s = 30
"""


def test_the_out_of_service_alarm_is_stored_when_raised_and_when_cleared(tmp_path: Path) -> None:
    scenario, db = tmp_path / "crashing.toml", tmp_path / "floor.db"
    scenario.write_text(BASE + KEEPS_CRASHING, encoding="utf-8")
    code, err, events = run_sim(scenario, tmp_path, timeout=120, extra=["--db", f"sqlite:///{db}"])
    assert code == 0, err
    assert of(events, "scenario.timeout") == []
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            a, o = t.alarm.c, t.outbox.c
            q = select(a.record_id, a.kind, a.severity, a.station, a.event, a.message)
            rows = conn.execute(q.where(a.alarm_id == "S1.out_of_service").order_by(a.id)).all()
            queued = set(conn.execute(select(o.record_id).where(o.kind == "alarm")).scalars())
    finally:
        engine.dispose()
    assert [tuple(r[1:5]) for r in rows] == [
        ("station.out_of_service", "high", "S1", "raised"),
        ("station.out_of_service", "high", "S1", "cleared"),
    ]
    assert "S1.scale 反复失败" in rows[0].message  # (the floor's language: Chinese by default)
    assert {r.record_id for r in rows} <= queued  # both go to the platform, as every stored alarm does
