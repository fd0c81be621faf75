"""The one backoff (domain/backoff.py): the delay sequence, its cap and its jitter, on seeded
random sources."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.backoff import Backoff, Jitter


def test_the_step_grows_by_the_factor_up_to_the_cap() -> None:
    b = Backoff(initial_s=0.5, max_s=6.0, factor=2.0)
    assert [b.step(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0]
    assert b.step(0) == 0.5  # (no failure yet counts as the first)
    assert b.step(10_000) == 6.0  # no overflow however long the outage
    assert Backoff(initial_s=1.0, max_s=100.0, factor=3.0).step(3) == 9.0


def test_no_jitter_is_the_step_itself() -> None:
    b = Backoff(initial_s=0.1, max_s=1.0, jitter=Jitter.NONE)
    assert [b.delay(n, random.Random(0)) for n in (1, 2, 3, 4, 5)] == [b.step(n) for n in (1, 2, 3, 4, 5)]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize(("jitter", "low"), [(Jitter.EQUAL, 0.5), (Jitter.FULL, 0.0)])
def test_a_jittered_delay_stays_within_its_share_of_the_step(seed: int, jitter: Jitter, low: float) -> None:
    b = Backoff(initial_s=1.0, max_s=8.0, jitter=jitter)
    rng = random.Random(seed)
    for n in range(1, 8):
        assert low * b.step(n) <= b.delay(n, rng) <= b.step(n) <= 8.0


def test_jitter_spreads_parties_that_fail_together() -> None:
    b = Backoff(initial_s=1.0, max_s=8.0)  # equal jitter by default
    delays = [b.delay(4, random.Random(seed)) for seed in range(50)]
    assert len(set(delays)) == 50
    assert min(delays) < 5.0 < 7.0 < max(delays)  # spread over the step's upper half [4, 8]


def test_the_same_seed_gives_the_same_sequence() -> None:
    b = Backoff(initial_s=0.2, max_s=3.0, jitter=Jitter.FULL)
    first, second = random.Random(42), random.Random(42)
    assert [b.delay(n, first) for n in range(1, 9)] == [b.delay(n, second) for n in range(1, 9)]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"initial_s": 0.0}, "initial_s must be above zero"),
        ({"initial_s": float("nan")}, "initial_s must be above zero"),
        ({"initial_s": 2.0, "max_s": 1.0}, "max_s must be at least initial_s"),
        ({"max_s": float("inf")}, "max_s must be at least initial_s"),
        ({"factor": 0.5}, "factor must be at least 1"),
        ({"jitter": "gaussian"}, "is not a valid Jitter"),
    ],
)
def test_a_backoff_no_loop_can_use_is_refused(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Backoff(**kwargs)  # type: ignore[arg-type]


@given(
    st.floats(0.001, 100.0),
    st.floats(1.0, 10.0),
    st.floats(1.0, 1000.0),
    st.sampled_from(Jitter),
    st.integers(-1, 5000),
    st.integers(0, 2**32),
)
def test_every_delay_is_within_zero_and_the_cap(
    initial: float, factor: float, headroom: float, jitter: Jitter, failures: int, seed: int
) -> None:
    b = Backoff(initial_s=initial, max_s=initial * headroom, factor=factor, jitter=jitter)
    delay = b.delay(failures, random.Random(seed))
    assert 0.0 <= delay <= b.step(failures) <= b.max_s
    assert b.step(failures) >= min(b.max_s, initial)
