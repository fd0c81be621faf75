"""Every number of the domain rules, as settings with the defaults of docs/domain.md.

Cities and regulators differ (docs/domain.md): a plant overrides these in its config file. Validators
refuse values no rule can work with (a negative tolerance, a zero interval), naming the field.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from attrs import Attribute, field, frozen

from domain.models import DEFAULT_MODELS, CylinderModel
from domain.setting import limited, not_in_file

__all__ = ["DomainSettings"]


def _finite(value: Decimal | float) -> bool:
    # NaN compares false to everything (and a Decimal NaN raises): test it apart.
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _not_negative(_instance: object, attribute: Attribute[Any], value: Decimal | float) -> None:
    if not (_finite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


def _positive(_instance: object, attribute: Attribute[Any], value: Decimal | float) -> None:
    if not (_finite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be above zero, got {value}")


def _fraction(_instance: object, attribute: Attribute[Any], value: Decimal) -> None:
    if not (_finite(value) and Decimal(0) <= value <= Decimal(1)):
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


def _models_by_name(_instance: object, _attribute: object, value: Mapping[str, CylinderModel]) -> None:
    for name, model in value.items():
        if name != model.name:
            raise ValueError(f"models: entry {name!r} holds model {model.name!r}")


_YEARS = limited(lo=1, hi=100)


@frozen
class DomainSettings:
    # docs/domain.md, "LPG cylinder models" (GB 5842, GB 17267-1998); a plant adds or overrides models.
    # Left out of the hash so that the settings stay hashable although the table is a dict.
    models: Mapping[str, CylinderModel] = field(
        factory=lambda: dict(DEFAULT_MODELS), validator=_models_by_name, hash=False, metadata=not_in_file()
    )  # (a file's [[model]] tables set it)
    # docs/domain.md, Weighing checks: empty-weight tolerance against the archived tare; below
    # tare − this → tare.below_archive (missing parts, wrong cylinder).
    tare_tolerance_kg: Decimal = field(default=Decimal("0.3"), validator=_not_negative)
    # docs/domain.md, Weighing checks: residual limit as a fraction of the model's rated net; above
    # tare + this → tare.residual_excess (extract the residue first).
    residual_fraction: Decimal = field(default=Decimal("0.15"), validator=_fraction)
    # docs/domain.md, Weighing checks: a reading is stable after this long within ± the band.
    stable_window_s: float = field(default=0.5, validator=_positive, metadata=limited(positive=True))
    stable_band_kg: Decimal = field(default=Decimal("0.020"), validator=_not_negative)
    # GB/T 8334: periodic inspection of LPG cylinders every 4 years.
    inspection_interval_years: int = field(default=4, validator=_positive, metadata=_YEARS)
    # GB 5842-2006: cylinders made to it have an 8-year design life, 4 more after a passed
    # inspection, so they are scrapped at 12 years; older ones at 15. The archive's scrap date,
    # where present, wins over both. The 2006 edition took effect on 2007-01-01.
    gb5842_2006_effective: dt.date = dt.date(2007, 1, 1)
    service_life_years_2006: int = field(default=12, validator=_positive, metadata=_YEARS)
    service_life_years_old: int = field(default=15, validator=_positive, metadata=_YEARS)
    # docs/station.md, interlock condition 4 ("a passing pre-fill check ... recently, configurable
    # window") and docs/scenarios.md (a station's usual course): a passing check counts for this long;
    # a station waits this long for one before refusing with precheck.missing. Project defaults.
    precheck_window_s: float = field(default=1800.0, validator=_positive, metadata=limited(positive=True))
    precheck_timeout_s: float = field(default=120.0, validator=_positive, metadata=limited(positive=True))
