"""Domain settings: the defaults of docs/domain.md, and values no rule can use refused by name."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from domain.models import DEFAULT_MODELS
from domain.settings import DomainSettings


def test_defaults_are_domain_md_figures() -> None:
    s = DomainSettings()
    assert s.models == DEFAULT_MODELS
    assert (s.tare_tolerance_kg, s.residual_fraction) == (Decimal("0.3"), Decimal("0.15"))
    assert (s.stable_window_s, s.stable_band_kg) == (0.5, Decimal("0.020"))
    assert s.inspection_interval_years == 4
    assert s.gb5842_2006_effective == dt.date(2007, 1, 1)
    assert (s.service_life_years_2006, s.service_life_years_old) == (12, 15)
    assert (s.precheck_window_s, s.precheck_timeout_s) == (1800.0, 120.0)
    assert hash(s) == hash(DomainSettings())  # usable as a key despite the model table


@pytest.mark.parametrize(
    ("name", "value"),
    [("tare_tolerance_kg", Decimal("-0.1")), ("residual_fraction", Decimal("1.5")),
     ("stable_band_kg", Decimal("-1")), ("stable_window_s", 0.0), ("inspection_interval_years", 0),
     ("service_life_years_old", -1), ("precheck_window_s", -5.0), ("precheck_timeout_s", 0.0),
     ("tare_tolerance_kg", Decimal("NaN"))],
)  # fmt: skip
def test_unusable_values_are_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        attrs.evolve(DomainSettings(), **{name: value})


def test_a_model_table_entry_must_hold_the_model_it_names() -> None:
    with pytest.raises(ValueError, match="YSP12"):
        DomainSettings(models={"YSP12": DEFAULT_MODELS["YSP35.5"]})
