"""How a station supervises a fill: its limits, its preact and its fill guard (settings with their
defaults and validators; a plant sets them in `[station.fill]`, docs/config.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from attrs import field, frozen

from domain.fill_guard import GuardSettings
from domain.filling import PreactSettings

__all__ = ["FillSettings"]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float | Decimal) -> None:
    if not (value == value and value > 0 and value != float("inf")):  # (NaN is not equal to itself)
        raise ValueError(f"{attribute.name} must be above zero, got {value}")


@frozen
class FillSettings:
    """How a station supervises a fill (`[station.fill]`; docs/station.md, Fill control). Defaults and
    validators live here; the config file's keys are these names (`preact_*` and `guard_*` for the
    nested settings)."""

    # A last line (the fill guard bounds a fill first): long enough for a YSP118 at 0.1 kg/s.
    max_fill_time_s: float = field(default=600.0, validator=_positive)
    no_flow_window_s: float = field(default=5.0, validator=_positive)
    no_flow_min_kg_s: float = field(default=0.05, validator=_positive)
    weight_drop_kg: Decimal = field(default=Decimal("0.2"), validator=_positive)
    settle_timeout_s: float = field(default=10.0, validator=_positive)
    feedback_timeout_s: float = field(default=1.0, validator=_positive)
    preact: PreactSettings = field(factory=PreactSettings)
    # A reading below this is an empty scale (the lightest model's tare is well above it).
    empty_below_kg: Decimal = field(default=Decimal("1.0"), validator=_positive)
    # After a scan, how long to wait for a stable reading before refusing with scale.unstable.
    stable_timeout_s: float = field(default=5.0, validator=_positive)
    # No sample for this long: the scale counts as lost (its actor also reports lost contact).
    sample_timeout_s: float = field(default=1.0, validator=_positive)
    # Start as soon as the interlock holds (True), or wait for the station's start button.
    auto_start: bool = True
    # A fill's valve opens once its open marker is durable: a marker not durable within this (the
    # database down, not just busy) ends the fill, valve never opened, as station.fault.
    marker_timeout_s: float = field(default=15.0, validator=_positive)
    # The fill guard: the station's own model bounds every fill (domain/fill_guard.py).
    guard: GuardSettings = field(factory=GuardSettings)
