"""How long to wait before trying again: the one backoff every retry loop uses.

A restarted actor, a lost device, a scanner unplugged, a database gone, a console cut off, a
platform down: each waits `initial_s`, then `factor` times longer after each failure in a row, at
most `max_s`, so that nothing dead is hammered. The wait is drawn at random below that step so that
parties failing together (a city's floors after the platform's outage, a floor's actors after a
power dip) do not retry in lockstep: "equal" jitter keeps it in the step's upper half (it still backs
off), "full" jitter anywhere from zero. The random source is the caller's, so a seeded one makes the
sequence reproducible.
"""

from __future__ import annotations

import math
import random
from enum import StrEnum
from typing import Any

import attrs
from attrs import field, frozen

__all__ = ["Backoff", "Jitter"]

# Past this many doublings every step is the cap; the bound keeps factor ** n a finite float.
_MAX_EXPONENT = 64


class Jitter(StrEnum):
    NONE = "none"  # the step itself (tests on virtual time)
    EQUAL = "equal"  # uniform in [step / 2, step]
    FULL = "full"  # uniform in [0, step]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be above zero, got {value}")


def _at_least_initial(instance: Backoff, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value >= instance.initial_s):
        raise ValueError(f"{attribute.name} must be at least initial_s ({instance.initial_s}), got {value}")


def _growing(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value >= 1):
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@frozen
class Backoff:
    initial_s: float = field(default=0.1, validator=_positive)
    max_s: float = field(default=10.0, validator=_at_least_initial)
    factor: float = field(default=2.0, validator=_growing)
    jitter: Jitter = field(default=Jitter.EQUAL, converter=Jitter)

    def step(self, failures: int) -> float:
        """The wait, before jitter, after `failures` failures in a row (1 = the first)."""
        exponent = min(max(0, failures - 1), _MAX_EXPONENT)
        return min(self.max_s, self.initial_s * self.factor**exponent)

    def delay(self, failures: int, rng: random.Random) -> float:
        """The wait after `failures` failures in a row (1 = the first), jittered with `rng`."""
        step = self.step(failures)
        match self.jitter:
            case Jitter.NONE:
                return step
            case Jitter.EQUAL:
                return step / 2 + rng.uniform(0, step / 2)
            case Jitter.FULL:
                return rng.uniform(0, step)
