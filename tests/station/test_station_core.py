"""The station coordinator's decisions, on the simulated station physics, in exact model time.

Each refusal code and each abort code of docs/domain.md is produced here from the situation a floor
would see, and the ground truth is checked: a refused cylinder never had the valve open, an
aborted fill's valve closed at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from domain.archive import CylinderStatus, Operator
from domain.fill_guard import StationLearning
from domain.fill_run import CUT_OFF, FillRun
from domain.fill_settings import FillSettings
from domain.filling import fill_target
from domain.holds import Hold
from domain.messages import CheckPhase, IndicatorFillState, StorageHealth, WeightSample
from domain.reasons import Reason
from domain.records import AlarmRecord, CheckRecord, HoldRecord, LearningRecord
from domain.settings import DomainSettings
from simulator.model_rig import GOOD, OPERATOR, TODAY, UNIT, Rig, archive
from supervisor.station.core import Phase
from supervisor.station.floor import FloorState

CUTOFFS = ("host", "indicator")


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_a_checked_eligible_cylinder_is_filled_to_target_and_recorded(cutoff: str) -> None:
    rig = Rig(cutoff=cutoff)
    rig.ready_to_fill(gross_kg=15.5)
    rig.until(lambda: rig.fills())
    rig.check(CheckPhase.POST)
    rig.step(0.2)
    rig.sim.remove()
    rig.step(0.5)
    assert rig.states() == ["idle", "verifying", "ready", "filling", "settling", "awaiting_postcheck",
                            "done", "idle"]  # fmt: skip
    [done] = rig.of_type("fill.completed")
    assert done["cylinder"] == GOOD
    assert (done["tare_kg"], done["target_kg"]) == (15.2, 29.7)
    assert abs(done["error_g"]) <= 100
    assert done["flags"] == []
    assert abs(rig.sim.mass_kg - 0) < 1e-9
    assert 29.6 <= rig.max_mass <= 29.8
    [fill] = rig.fills()
    assert (fill.outcome, fill.operator, fill.gross_before_kg) == ("completed", "OP01", Decimal("15.5"))
    assert fill.preact_kg == Decimal("0.30")
    pre, post = [r for r in rig.records if isinstance(r, CheckRecord)]
    assert fill.precheck_id == pre.record_id  # the permit's pre-fill check is on the fill record
    assert post.fill_record_id == fill.record_id  # the post-fill check is bound to its fill
    assert [(o.open, o.cause) for o in rig.permit_orders] == [(True, "fill"), (False, "cut_off")]


# --- refusals: every reason code, from the situation that causes it --------------------------------


def _floor(*archives: object, operators: tuple[Operator, ...] = (OPERATOR,)) -> FloorState:
    return FloorState(UNIT, lambda: TODAY, archives or (archive(),), operators)  # type: ignore[arg-type]


Setup = Callable[[Rig], None]


def _scan_as(text: str, **kw: bool) -> Setup:
    def setup(rig: Rig) -> None:
        rig.scan(text, **kw)

    return setup


def _archive(**changes: object) -> Setup:
    def setup(rig: Rig) -> None:
        rig.floor.put_archive(archive(**changes))  # type: ignore[arg-type]
        rig.scan()

    return setup


def _other_station_holds(rig: Rig) -> None:
    rig.floor.claim(GOOD, "S2")
    rig.scan()


def _unresolved_overfill(rig: Rig) -> None:
    rig.floor.set_hold(GOOD, Hold.OVERFILL, True)
    _weighs(30.4)(rig)  # back on the scale with the excess still in it


def _logged_out(rig: Rig) -> None:
    rig.login()  # the same badge again logs out
    rig.scan()


def _badge(badge: str) -> Setup:
    def setup(rig: Rig) -> None:
        rig.login(badge)
        rig.scan()

    return setup


def _precheck_failed(rig: Rig) -> None:
    rig.check(CheckPhase.PRE, passed=False)
    rig.scan()


def _precheck_incomplete(rig: Rig) -> None:
    rig.check(CheckPhase.PRE, items={"valve": "not_checked"})  # marked pass, one item not checked
    rig.scan()


def _lifted_off_without_its_post_check(rig: Rig) -> None:
    rig.floor.set_hold(GOOD, Hold.POST_CHECK_MISSING, True)  # (how: test_a_cylinder_lifted_off_...)
    rig.scan()


def _precheck_never_comes(rig: Rig) -> None:
    rig.floor._checks.clear()  # the test's setup had recorded one
    rig.scan()
    rig.step(rig.ctx.rules.precheck_timeout_s + 1)


def _nothing_on_scale(rig: Rig) -> None:
    rig.sim.remove()
    rig.step(1.0)
    rig.scan()
    rig.step(rig.ctx.fill.stable_timeout_s + 1)


def _never_stable(rig: Rig) -> None:
    rig.sample_override = {"stable": False}
    rig.step(0.2)
    rig.scan()
    rig.step(rig.ctx.fill.stable_timeout_s + 1)


def _weighs(gross_kg: float) -> Setup:
    def setup(rig: Rig) -> None:
        rig.sim.remove()
        rig.place(gross_kg)
        rig.step(1.5)
        rig.scan()

    return setup


def _console(kind: str) -> Setup:
    def setup(rig: Rig) -> None:
        rig.console(kind)
        rig.scan()

    return setup


def _scale_link_lost(rig: Rig) -> None:
    rig.scale_ok = False  # (a lost link brings no samples: one would say the scale is back)
    rig.link("scale", up=False)
    rig.scan()


def _disabled(rig: Rig) -> None:
    rig.floor.set_disabled("S1", True)
    rig.scan()


def _blocked_by(reason: Reason) -> Setup:
    def setup(rig: Rig) -> None:
        rig.blockers.append(reason)
        rig.scan()

    return setup


def _storage_failing(rig: Rig) -> None:
    rig.send(StorageHealth(False, rig.now, "disk I/O error"))
    rig.scan()


REFUSALS: dict[Reason, Setup] = {
    Reason.LABEL_UNREADABLE: _scan_as("\x00\x1b[31m"),
    Reason.LABEL_FOREIGN_UNIT: _scan_as("XY00990000001"),
    Reason.CYLINDER_UNKNOWN: _scan_as("HY00129999999"),
    Reason.CYLINDER_NOT_OWN_PROPERTY: _archive(owner="HY0099"),
    Reason.CYLINDER_SCRAPPED: _archive(status=CylinderStatus.SCRAPPED),
    Reason.CYLINDER_PAST_SCRAP_DATE: _archive(scrap_date=TODAY),
    Reason.CYLINDER_INSPECTION_OVERDUE: _archive(next_inspection=TODAY),
    Reason.CYLINDER_BLOCKED: _archive(blocked=True),
    Reason.CYLINDER_TARE_UNKNOWN: _archive(tare_kg=None),
    Reason.CYLINDER_MODEL_NOT_ALLOWED: _archive(model="YSP999"),
    Reason.CYLINDER_IN_USE: _other_station_holds,
    Reason.CYLINDER_OVERFILL_UNRESOLVED: _unresolved_overfill,
    Reason.OPERATOR_NONE: _logged_out,
    Reason.OPERATOR_UNKNOWN: _badge("OP99"),
    Reason.OPERATOR_CERTIFICATE_EXPIRED: _badge("OP02"),
    Reason.PRECHECK_MISSING: _precheck_never_comes,
    Reason.PRECHECK_FAILED: _precheck_failed,
    Reason.PRECHECK_INCOMPLETE: _precheck_incomplete,
    Reason.POSTCHECK_MISSING: _lifted_off_without_its_post_check,
    Reason.SCALE_NO_CYLINDER: _nothing_on_scale,
    Reason.SCALE_UNSTABLE: _never_stable,
    Reason.TARE_BELOW_ARCHIVE: _weighs(14.8),
    Reason.TARE_RESIDUAL_EXCESS: _weighs(17.5),
    Reason.STATION_PAUSED: _console("pause"),
    Reason.STATION_FAULT: _scale_link_lost,
    Reason.STATION_OUT_OF_SERVICE: _blocked_by(Reason.STATION_OUT_OF_SERVICE),
    Reason.STATION_DISABLED_BY_REGULATOR: _disabled,
    Reason.DEVICE_SCALE_UNAVAILABLE: _blocked_by(Reason.DEVICE_SCALE_UNAVAILABLE),
    Reason.DEVICE_VALVE_UNAVAILABLE: _blocked_by(Reason.DEVICE_VALVE_UNAVAILABLE),
}


def test_every_refusal_code_has_a_case() -> None:
    from domain.reasons import REFUSALS as ALL_REFUSALS

    assert set(REFUSALS) == set(ALL_REFUSALS)


@pytest.mark.parametrize("reason", list(REFUSALS), ids=str)
def test_refusal(reason: Reason) -> None:
    expired = Operator("OP02", "李四", TODAY - dt.timedelta(days=1))
    rig = Rig(floor=_floor(operators=(OPERATOR, expired)))
    rig.login()
    rig.check(CheckPhase.PRE)
    rig.place(15.5)
    rig.step(1.5)
    REFUSALS[reason](rig)
    rig.until(lambda: rig.refusals() and rig.core.phase != Phase.VERIFYING, limit_s=300)
    assert reason in rig.refusals()[-1]
    assert rig.core.phase in (Phase.REJECTED, Phase.IDLE)
    assert not any(o.open for o in rig.permit_orders)
    assert rig.opened_for == set()  # ground truth: the valve never opened
    assert reason in rig.refusal_records()[-1].reasons  # stored, with its reasons


def test_a_refusal_names_every_reason_that_applies() -> None:
    rig = Rig(archives=(archive(next_inspection=TODAY, blocked=True, owner="HY0099"),))
    rig.place(17.5)
    rig.step(1.5)
    rig.scan()  # no operator, no pre-fill check, residual gas, and three archive reasons
    rig.until(lambda: rig.refusals())
    assert rig.refusals()[-1] == (
        "operator.none", "cylinder.not_own_property", "cylinder.inspection_overdue", "cylinder.blocked",
        "precheck.missing", "tare.residual_excess",
    )  # fmt: skip
    assert rig.states()[-1] == "rejected"
    rig.sim.remove()
    rig.step(0.2)
    assert rig.states()[-1] == "idle"


def test_a_station_waits_for_a_late_pre_fill_check_then_fills() -> None:
    rig = Rig()
    rig.login()
    rig.place(15.5)
    rig.step(1.5)
    rig.scan()
    rig.step(30)
    assert rig.states()[-1] == "awaiting_precheck"
    rig.check(CheckPhase.PRE)  # the checker arrives
    rig.until(lambda: rig.fills())
    assert rig.fills()[0].outcome == "completed"
    assert rig.refusals() == []


def test_a_check_recorded_at_another_station_counts() -> None:
    floor = _floor()
    s1, s2 = Rig(floor=floor, station="S1"), Rig(floor=floor, station="S2")
    s1.login()
    s1.place(15.5)
    s1.step(1.5)
    s1.scan()
    s1.step(1)
    s2.check(CheckPhase.PRE)  # a checker with a handheld terminal, anywhere on the floor
    s1.until(lambda: s1.fills())
    assert s1.fills()[0].outcome == "completed"


def test_the_same_cylinder_cannot_be_at_two_stations() -> None:
    floor = _floor()
    s1, s2 = Rig(floor=floor, station="S1"), Rig(floor=floor, station="S2")
    s1.ready_to_fill()
    s2.ready_to_fill()  # a copied label, or the wrong scan
    s2.until(lambda: s2.refusals())
    assert s2.refusals()[-1] == ("cylinder.in_use",)
    s1.until(lambda: s1.fills())
    s1.sim.remove()
    s1.step(0.5)
    assert floor.holder(GOOD) is None  # released once lifted off


def test_an_unknown_badge_is_refused_at_login() -> None:
    rig = Rig()
    rig.login("OP77")
    assert rig.refusals() == [("operator.unknown",)]


# --- aborts: every abort code closes the valve at once ---------------------------------------------


def _during_fill(rig: Rig) -> None:
    rig.ready_to_fill()
    rig.until(lambda: rig.core.phase == Phase.FILLING)
    rig.step(1.0)


ABORTS: dict[Reason, Callable[[Rig], None]] = {
    # The valve shut on its own, its switch slow to tell: the reading is still and the switch says
    # closed, so the fill guard has nothing to judge; the no-flow window is the last line.
    Reason.FILL_STALLED: lambda rig: (
        rig.sim.write_permit(False) or setattr(rig.sim, "valve_ignores_commands", True)
    ),
    Reason.FILL_WEIGHT_DROP: lambda rig: setattr(rig.sim._load, "mass_kg", rig.sim.mass_kg - 1.0),
    Reason.FILL_CYLINDER_REMOVED: lambda rig: rig.sim.remove(),
    Reason.FILL_MAX_TIME: lambda rig: setattr(rig.sim, "flow_kg_s", 0.5),
    Reason.FILL_HARD_CAP: lambda rig: setattr(rig.sim._load, "mass_kg", 30.5),
    Reason.DEVICE_SCALE_LOST: lambda rig: setattr(rig, "scale_ok", False),
    Reason.DEVICE_VALVE_LOST: lambda rig: rig.link("valve", up=False),
    Reason.VALVE_FEEDBACK_MISMATCH: lambda rig: (
        setattr(rig.sim, "valve_ignores_commands", True)
        or rig.sim.write_permit(False)
        or setattr(rig.sim, "_permit", False)
        or rig.sim._steer_valve()
    ),
    Reason.OPERATOR_STOP: lambda rig: rig.console("stop"),
    Reason.SUPERVISOR_SHUTDOWN: lambda rig: (
        rig.blockers.append(Reason.SUPERVISOR_SHUTDOWN) or [rig._apply(e) for e in rig.core.stop()]
    ),
    Reason.INTERNAL_ERROR: lambda rig: setattr(rig, "sample_override", {"gross_kg": None}),  # a bug
    Reason.FILL_READING_NOT_CREDIBLE: lambda rig: setattr(rig.sim, "ad_frozen", True),
}
_ABORT_SETTINGS = {
    Reason.FILL_MAX_TIME: FillSettings(max_fill_time_s=20.0),
    Reason.FILL_STALLED: FillSettings(feedback_timeout_s=30.0),
}


def test_every_abort_code_has_a_case() -> None:
    from domain.reasons import FILL_ABORTS

    assert set(ABORTS) == set(FILL_ABORTS)


@pytest.mark.parametrize("reason", list(ABORTS), ids=str)
def test_abort(reason: Reason) -> None:
    rig = Rig(fill=_ABORT_SETTINGS.get(reason))
    _during_fill(rig)
    opened_at = len(rig.permit_orders)
    ABORTS[reason](rig)
    rig.until(lambda: rig.of_type("fill.aborted"), limit_s=60)
    [aborted] = rig.of_type("fill.aborted")
    assert aborted["reason"] == str(reason)
    assert [o.open for o in rig.permit_orders[opened_at:]][:1] == [False]
    assert rig.core.permit is False
    [fill_record] = rig.fills()
    assert fill_record.outcome in ("aborted", "interrupted")
    assert fill_record.reason == str(reason)


LEARNED = StationLearning(Decimal("0.35"), flow_kg_s=2.0, peak_flow_kg_s=2.0, fills=3)


@pytest.mark.parametrize("cutoff", CUTOFFS)
@pytest.mark.parametrize("learning", [LEARNED, None], ids=["learned", "new_station"])
def test_a_scale_frozen_mid_fill_closes_the_valve_at_once_with_a_critical_alarm(
    cutoff: str, learning: StationLearning | None
) -> None:
    rig = Rig(cutoff=cutoff, learning=learning)
    _during_fill(rig)
    frozen_at, mass_at_freeze = rig.now, rig.sim.mass_kg
    rig.sim.ad_frozen = True  # the reading stops changing; the gas keeps flowing
    rig.until(lambda: not rig.core.permit)
    # A station that knows its flow closes on the first poll that did not move; a new one assumes
    # it may be as slow as 0.1 kg/s and waits until that flow would have moved it 3 divisions.
    assert rig.now - frozen_at <= (0.15 if learning else 0.35)
    rig.until(lambda: rig.of_type("fill.aborted"))
    assert rig.of_type("fill.aborted")[0]["reason"] == "fill.reading_not_credible"
    [alarm] = [a for a in rig.of_type("alarm.raised") if a["kind"] == "fill.reading_not_credible"]
    assert alarm["severity"] == "critical"
    assert "读数不变" in alarm["message"]  # which rule: the reading stopped while the valve was open
    rig.step(1.0)
    assert rig.max_mass <= mass_at_freeze + 2.0 * (rig.now - frozen_at)  # (sanity)
    assert rig.max_mass < mass_at_freeze + (0.6 if learning else 1.0)  # polls and the valve's 150 ms


def test_a_valve_stuck_open_raises_a_critical_alarm_and_faults_the_station() -> None:
    rig = Rig()
    _during_fill(rig)
    rig.sim.stuck_open = True
    rig.until(lambda: rig.core.state == "fault", limit_s=30)
    raised = rig.of_type("alarm.raised")
    assert any(a["kind"] == "valve.stuck_open" and a["severity"] == "critical" for a in raised)
    rig.sim.remove()
    rig.step(0.5)
    rig.ready_to_fill()  # a new cylinder while the valve is stuck: refused
    rig.until(lambda: rig.refusals())
    assert "station.fault" in rig.refusals()[-1]


def test_an_exception_while_deciding_fails_closed() -> None:
    rig = Rig()
    _during_fill(rig)

    def broken() -> dt.date:
        raise RuntimeError("registry corrupted")

    rig.floor.today = broken
    rig.login("OP03")  # another badge mid-fill: the core checks it (and the date)
    rig.step(1.0)
    assert rig.core.permit is False
    assert rig.core.state == "fault"
    assert rig.of_type("fill.aborted")[0]["reason"] == "internal.error"
    assert any(a["kind"] == "internal.error" for a in rig.of_type("alarm.raised"))


# --- after the fill --------------------------------------------------------------------------------


def test_an_overfill_is_flagged_held_and_released_after_the_excess_is_removed() -> None:
    rig = Rig(preact_kg=Decimal("0"), flow_kg_s=8.0)  # no preact at 8 kg/s: ~1.6 kg in flight
    rig.ready_to_fill()
    rig.until(lambda: rig.fills())
    [fill] = rig.fills()
    assert "overfill" in fill.flags
    assert any(a["kind"] == "fill.overfill" for a in rig.of_type("alarm.raised"))
    rig.check(CheckPhase.POST)
    rig.sim.remove()
    rig.step(0.5)
    rig.place(float(fill.gross_kg))  # back on a scale with the excess still in it
    rig.step(1.5)
    rig.check(CheckPhase.PRE)
    rig.scan()
    rig.until(lambda: len(rig.refusals()) == 1)
    assert "cylinder.overfill_unresolved" in rig.refusals()[0]
    rig.sim.remove()
    rig.step(0.5)
    rig.place(29.6)  # the excess was removed (抽出): within the band now
    rig.step(1.5)
    rig.scan()
    rig.until(lambda: len(rig.refusals()) == 2)
    assert "cylinder.overfill_unresolved" not in rig.refusals()[1]
    assert rig.refusals()[1] == ("tare.residual_excess",)  # and a full cylinder is not filled again
    assert not rig.floor.held(GOOD, Hold.OVERFILL)


def test_a_failed_post_fill_check_raises_an_alarm_and_holds_the_cylinder() -> None:
    rig = Rig()
    rig.ready_to_fill()
    rig.until(lambda: rig.fills())
    rig.check(CheckPhase.POST, passed=False)
    assert any(a["kind"] == "check.post_failed" for a in rig.of_type("alarm.raised"))
    rig.sim.remove()
    rig.step(0.5)
    rig.ready_to_fill()
    rig.until(lambda: rig.refusals())
    assert "cylinder.blocked" in rig.refusals()[-1]
    assert not rig.of_type("alarm.cleared")  # held until it is checked again


def test_a_passing_post_fill_check_after_a_failed_one_clears_its_alarm_and_the_hold() -> None:
    rig = Rig()
    rig.ready_to_fill()
    rig.until(lambda: rig.fills())
    rig.check(CheckPhase.POST, passed=False)
    raised = [a for a in rig.of_type("alarm.raised") if a["kind"] == "check.post_failed"]
    rig.check(CheckPhase.POST, passed=True)  # the leak was handled and the checker passed it
    cleared = [a for a in rig.of_type("alarm.cleared") if a["kind"] == "check.post_failed"]
    assert [a["alarm_id"] for a in cleared] == [raised[0]["alarm_id"]]
    assert not rig.floor.held(GOOD, Hold.POST_CHECK_FAILED)


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_the_preact_adapts_from_in_band_fills(cutoff: str) -> None:
    rig = Rig(cutoff=cutoff, preact_kg=Decimal("0.05"), noise_g=3.0)  # starts far too small
    errors = []
    for n in range(6):
        rig.ready_to_fill(cylinder=GOOD)
        rig.until(lambda n=n: len(rig.fills()) == n + 1)
        errors.append(rig.fills()[-1].error_g)
        rig.check(CheckPhase.POST)
        rig.sim.remove()
        rig.step(0.5)
    assert abs(errors[-1]) < abs(errors[0]) / 2
    stored = [r for r in rig.records if isinstance(r, LearningRecord)]
    assert stored
    assert stored[-1].learning.preact_kg == rig.core.preact_kg


def test_with_storage_failing_a_fill_in_progress_ends_normally_but_no_new_one_starts() -> None:
    rig = Rig()
    _during_fill(rig)
    rig.send(StorageHealth(False, rig.now, "database is locked"))
    rig.until(lambda: rig.fills())
    assert rig.fills()[0].outcome == "completed"
    assert any(a["kind"] == "storage.unavailable" for a in rig.of_type("alarm.raised"))
    rig.check(CheckPhase.POST)
    rig.sim.remove()
    rig.step(0.5)
    rig.ready_to_fill()
    rig.until(lambda: rig.refusals())
    assert "station.fault" in rig.refusals()[-1]
    assert [r for r in rig.records if isinstance(r, AlarmRecord) and r.kind == "storage.unavailable"]


def test_pause_holds_the_course_and_resume_verifies_again() -> None:
    rig = Rig(fill=FillSettings(auto_start=False))
    rig.ready_to_fill()
    rig.step(1.0)
    assert rig.core.phase == Phase.READY
    rig.console("pause")
    rig.console("start")
    rig.step(0.5)
    assert rig.states()[-1] == "paused"
    assert not any(o.open for o in rig.permit_orders)
    rig.console("resume")
    rig.step(1.0)
    assert rig.states()[-3:] == ["paused", "verifying", "ready"]  # verified again before filling
    rig.console("start")
    rig.until(lambda: rig.fills())
    assert rig.fills()[0].outcome == "completed"


def test_an_indicator_cut_off_left_over_from_before_does_not_end_a_new_fill() -> None:
    target = fill_target(archive(), DomainSettings())
    run = FillRun("fill-1", target, Decimal("0.3"), cutoff="indicator", settings=FillSettings(),
                  started_at=0.0, gross_before_kg=Decimal("15.5"))  # fmt: skip
    stale = IndicatorFillState.CUT_OFF  # the indicator was never reset after the last fill
    assert run.on_sample(WeightSample(Decimal("15.5"), True, 0.05, fill_state=stale)) is None
    assert (
        run.on_sample(WeightSample(Decimal("15.6"), False, 0.10, fill_state=IndicatorFillState.FILLING))
        is None
    )
    assert run.on_sample(WeightSample(Decimal("29.4"), False, 7.0, fill_state=stale)) == CUT_OFF


def test_a_cleared_alarm_is_recorded_with_what_cleared_and_the_platform_takes_it(tmp_path: Path) -> None:
    from platform_server.fields import Fields
    from platform_server.records import Checked, check_record
    from supervisor.storage import open_database
    from supervisor.storage.repository import pending_outbox, store

    rig = Rig()
    rig.link("scale", up=False)
    rig.step(0.2)
    rig.link("scale", up=True)
    rig.step(0.2)
    alarms = [r for r in rig.records if isinstance(r, AlarmRecord) and r.alarm_id == "S1.scale_lost"]
    assert [a.event for a in alarms] == ["raised", "cleared"]
    raised, cleared = alarms
    assert cleared.kind
    assert (cleared.kind, cleared.severity, cleared.message) == (raised.kind, raised.severity, raised.message)
    # What the floor uploads for it is a record the platform stores (it refuses an alarm without a kind).
    db = open_database(f"sqlite:///{tmp_path / 'floor.db'}")
    with db.transaction() as conn:
        store(conn, cleared)
    with db.reading() as conn:
        (item,) = pending_outbox(conn)
    db.close()
    upload = {"record_id": item.record_id, "kind": item.kind, "payload": dict(item.payload)}
    assert isinstance(check_record(item.record_id, Fields(upload, "records[0]")), Checked)


# --- holds, and checks that mean something -------------------------------------------------------


def _filled(rig: Rig) -> None:
    rig.ready_to_fill()
    rig.until(lambda: rig.core.phase == Phase.AWAITING_POSTCHECK, limit_s=60)


def _rescan_after_a_new_check(rig: Rig) -> tuple[str, ...]:
    rig.check(CheckPhase.PRE)
    rig.place(15.5)
    rig.step(1.5)
    rig.scan()
    rig.until(lambda: rig.core.phase != Phase.VERIFYING)
    return rig.refusals()[-1] if rig.refusals() else ()


def test_a_cylinder_lifted_off_without_its_post_fill_check_is_recorded_alarmed_and_held() -> None:
    rig = Rig()
    _filled(rig)
    rig.sim.remove()
    rig.step(0.5)
    [alarm] = [a for a in rig.of_type("alarm.raised") if a["kind"] == "check.post_missing"]
    assert GOOD in alarm["message"]
    [hold] = [r for r in rig.records if isinstance(r, HoldRecord)]
    assert (hold.cylinder, hold.kind, hold.held, hold.fill_record_id) == (
        GOOD, Hold.POST_CHECK_MISSING, True, rig.fills()[0].record_id,
    )  # fmt: skip
    assert _rescan_after_a_new_check(rig) == ("postcheck.missing",)
    rig.sim.remove()
    rig.step(0.5)
    rig.check(CheckPhase.POST)  # recorded late, at the check terminal
    assert [a["alarm_id"] for a in rig.of_type("alarm.cleared")] == [alarm["alarm_id"]]
    assert not rig.floor.held(GOOD, Hold.POST_CHECK_MISSING)
    assert [r.held for r in rig.records if isinstance(r, HoldRecord)] == [True, False]


def test_another_cylinder_scanned_in_place_of_a_filled_one_leaves_it_held() -> None:
    other = archive("HY00120000777")
    rig = Rig(archives=(archive(), other))
    _filled(rig)
    rig.check(CheckPhase.PRE, cylinder=other.code)
    rig.scan(other.code)  # swapped quicker than a poll shows the scale empty
    assert rig.floor.held(GOOD, Hold.POST_CHECK_MISSING)
    assert not rig.floor.held(other.code, Hold.POST_CHECK_MISSING)


def test_a_post_fill_check_with_items_left_open_does_not_end_the_wait() -> None:
    rig = Rig()
    _filled(rig)
    rig.check(CheckPhase.POST, items={"leak": "not_checked"})
    rig.step(0.2)
    assert rig.core.phase == Phase.AWAITING_POSTCHECK
    assert rig.of_type("check.recorded")[-1]["complete"] is False
    rig.check(CheckPhase.POST)
    rig.step(0.2)
    assert rig.core.phase == Phase.DONE


def test_a_check_names_its_cylinder_by_the_label_rule_and_must_be_in_the_registry() -> None:
    rig = Rig()
    rig.check(CheckPhase.PRE, cylinder=f"https://trace.example.cn/c?code={GOOD}")
    [check] = [r for r in rig.records if isinstance(r, CheckRecord)]
    assert check.cylinder == GOOD  # recorded under the code: the scan finds it
    rig.check(CheckPhase.PRE, cylinder="HY00129999999")
    rig.check(CheckPhase.PRE, cylinder="XY00990000001")
    refused = rig.of_type("check.refused")
    assert [r["reasons"] for r in refused] == [["cylinder.unknown"], ["label.foreign_unit"]]
    assert len([r for r in rig.records if isinstance(r, CheckRecord)]) == 1
    assert [r.reasons for r in rig.refusal_records()] == [("cylinder.unknown",), ("label.foreign_unit",)]


def test_holds_survive_a_restart(tmp_path: Path) -> None:
    """Every kind of hold, stored through the real storage functions, rebuilt at start."""
    from supervisor.storage import open_database
    from supervisor.storage.repository import load_holds, store_all

    other, third = archive("HY00120000777"), archive("HY00120000778")
    rig = Rig(archives=(archive(), other, third), preact_kg=Decimal("0"), flow_kg_s=8.0)
    _filled(rig)  # no preact at 8 kg/s: an overfill, held
    rig.sim.remove()  # and lifted off without its post-fill check: held for that too
    rig.step(0.5)
    rig.check(CheckPhase.POST, cylinder=third.code, passed=False)  # a leak on another cylinder
    db = open_database(f"sqlite:///{tmp_path / 'floor.db'}")
    with db.transaction() as conn:
        store_all(conn, rig.records)
    with db.reading() as conn:
        holds = load_holds(conn)
    db.close()
    assert sorted(holds) == sorted(
        [(Hold.OVERFILL, GOOD), (Hold.POST_CHECK_MISSING, GOOD), (Hold.POST_CHECK_FAILED, third.code)]
    )
    floor = FloorState(UNIT, lambda: TODAY, (archive(), other, third), [OPERATOR], holds=holds)
    again = Rig(floor=floor)  # the floor after a restart
    again.login()
    again.check(CheckPhase.PRE)
    again.place(30.4)  # the over-filled cylinder, back on a scale
    again.step(1.5)
    again.scan()
    again.until(lambda: again.refusals())
    assert {"cylinder.overfill_unresolved", "postcheck.missing"} <= set(again.refusals()[-1])


def test_an_under_filled_cylinder_is_topped_up_to_the_same_target_bound_to_its_first_fill() -> None:
    rig = Rig(preact_kg=Decimal("1.2"))  # far too early a cut-off: ~0.85 kg short, an under-fill
    _filled(rig)
    first = rig.fills()[0]
    assert "underfill" in first.flags
    rig.check(CheckPhase.POST)
    rig.scan()  # scanned again where it stands: a top-up, not a cylinder with residue
    rig.until(lambda: len(rig.fills()) == 2, limit_s=60)
    top_up = rig.fills()[1]
    assert (top_up.outcome, top_up.topup_of, top_up.target_kg) == (
        "completed",
        first.record_id,
        first.target_kg,
    )
    assert top_up.flags == ()
    assert rig.max_mass <= 15.2 + 14.9
    assert rig.refusals() == []


def test_a_top_up_needs_the_weight_its_under_fill_left() -> None:
    rig = Rig(preact_kg=Decimal("1.2"))
    _filled(rig)
    rig.check(CheckPhase.POST)
    rig.sim.remove()
    rig.step(0.5)
    rig.place(float(rig.fills()[0].gross_kg or 0) + 1.0)  # a kilogram more than the fill left: not that
    rig.step(1.5)
    rig.scan()
    rig.until(lambda: rig.refusals())
    assert rig.refusals()[-1] == ("tare.residual_excess",)


@pytest.mark.parametrize(
    ("before_kg", "after_kg", "refused"), [(29.7, 15.4, ()), (15.4, 17.6, ("tare.residual_excess",))]
)
def test_a_cylinder_swapped_and_scanned_within_one_poll_is_judged_on_its_own_weight(
    before_kg: float, after_kg: float, refused: tuple[str, ...]
) -> None:
    """Full → empty must not be refused on the full one's weight; empty → one with residue must not
    pass on the empty one's (the dangerous direction)."""
    rig = Rig()
    rig.login()
    rig.check(CheckPhase.PRE)
    rig.place(before_kg, cylinder="HY00120000999")  # (a cylinder of another unit's archive: no matter)
    rig.step(2.0)  # long stable on the scale
    rig.sim.remove()
    rig.place(after_kg)
    rig.scan()  # in the same instant: no poll has seen the swap yet
    rig.until(lambda: rig.core.phase != Phase.VERIFYING, limit_s=10)
    assert (rig.refusals()[-1] if rig.refusals() else ()) == refused
    if not refused:
        rig.until(lambda: rig.fills())
        assert rig.fills()[0].gross_before_kg == Decimal(str(after_kg))


def test_a_scanner_sending_junk_is_one_refusal_one_alarm_and_one_count_not_a_record_a_frame() -> None:
    """Issue 19: 31,910 refusal records in 28 s from a scanner spewing garbage, each uploaded."""
    rig = Rig()
    rig.login()
    rig.place(15.5)
    rig.step(0.5)
    for _ in range(500):  # 500 frames, one every poll
        rig.scan("\x00\x1b[31m")
        rig.step(0.05)
    assert len(rig.refusal_records()) == 1  # the first, as any unreadable label
    assert len(rig.of_type("interlock.refused")) == 1
    assert [a.kind for a in rig.records if isinstance(a, AlarmRecord)] == ["scanner.junk"]
    rig.step(3.0)  # the line is quiet: the burst is over
    _first, burst = rig.refusal_records()
    assert list(burst.reasons) == ["label.unreadable"]
    assert burst.raw.startswith("500 unreadable frames in ")
    assert [(a.kind, a.event) for a in rig.records if isinstance(a, AlarmRecord)] == [
        ("scanner.junk", "raised"), ("scanner.junk", "cleared")]  # fmt: skip
    rig.scan("\x00")  # a torn label later is refused at once again
    rig.step(0.1)
    assert len(rig.of_type("interlock.refused")) == 2
    rig.check(CheckPhase.PRE)
    rig.scan()
    rig.until(lambda: rig.fills())  # the station fills as before


def test_a_recorded_check_names_its_checker_for_the_console() -> None:
    """F3's checker column reads who did the check from the event: without it, always "—"."""
    rig = Rig()
    rig.check(CheckPhase.PRE)
    rig.step(0.2)
    assert rig.of_type("check.recorded")[-1]["checker"] == "CK01"


@pytest.mark.parametrize("device", ["scale", "valve"])
def test_a_device_that_drops_is_one_alarm_whether_its_link_or_its_silence_is_seen_first(device: str) -> None:
    """ISA-18.2, one alarm per cause: a lost scale raised two (lost, then silent) before."""
    rig = Rig()
    rig.step(0.5)
    if device == "scale":
        rig.scale_ok = False
    else:
        rig.valve_ok = False
    rig.step(3.0)  # silent past the timeout first
    rig.link(device, up=False)  # then its actor says the link is down
    rig.step(0.5)
    rig.link(device, up=True)
    if device == "scale":
        rig.scale_ok = True
    else:
        rig.valve_ok = True
    rig.step(0.5)
    alarms = [(r.alarm_id, r.event) for r in rig.records if isinstance(r, AlarmRecord)]
    assert alarms == [(f"S1.{device}_lost", "raised"), (f"S1.{device}_lost", "cleared")]
