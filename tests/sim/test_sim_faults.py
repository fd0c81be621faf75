"""Fault injection: which faults are valid, and how long they last (on an explicit clock)."""

from __future__ import annotations

import pytest

from simulator.faults import Fault, FaultBoard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_fault_lasts_its_duration_then_the_device_behaves_again() -> None:
    clock = Clock()
    board = FaultBoard(clock)
    board.inject(Fault("scale", "freeze", 2.0))
    assert board.active("scale", "freeze")
    assert not board.active("valve", "freeze")
    assert board.kinds("scale") == {"freeze"}
    clock.now += 1.999
    assert board.active("scale", "freeze")
    clock.now += 0.001
    assert not board.active("scale", "freeze")
    assert board.kinds("scale") == frozenset()


def test_injecting_again_extends_and_clear_ends_at_once() -> None:
    clock = Clock()
    board = FaultBoard(clock)
    board.inject(Fault("valve", "stuck_open", 1.0))
    clock.now += 0.5
    board.inject(Fault("valve", "stuck_open", 1.0))
    clock.now += 0.9
    assert board.active("valve", "stuck_open")
    board.clear("valve")
    assert not board.active("valve", "stuck_open")


def test_crash_is_only_a_flag_for_the_actor() -> None:
    clock = Clock()
    board = FaultBoard(clock)
    board.inject(Fault("scanner", "crash", 3.0))
    assert board.crashing("scanner")
    assert not board.crashing("scale")
    clock.now += 3.0
    assert not board.crashing("scanner")


@pytest.mark.parametrize(
    ("device", "kind", "seconds", "problem"),
    [
        ("scale", "stuck_open", 1.0, "a scale cannot be stuck_open"),
        ("scanner", "stuck_open", 1.0, "a scanner cannot be stuck_open"),
        ("pump", "freeze", 1.0, "device must be one of"),
        ("valve", "melt", 1.0, "kind must be one of"),
        ("valve", "freeze", 0.0, "seconds must be > 0"),
        ("valve", "freeze", float("nan"), "seconds must be > 0"),
    ],
)
def test_invalid_faults_are_refused_with_the_reason(
    device: str, kind: str, seconds: float, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Fault(device, kind, seconds)
