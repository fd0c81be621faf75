"""Fill targets, flags at the band's edges, tare plausibility, adaptive preact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.archive import CylinderArchive
from domain.filling import PreactSettings, adapt_preact, fill_flags, fill_target, tare_reasons
from domain.reasons import FillFlag, Reason
from domain.settings import DomainSettings
from tests.support.strategies import archives

S = DomainSettings()
A = CylinderArchive(code="HY00120000123", owner="HY0012", model="YSP35.5", tare_kg=Decimal("15.2"),
                    manufactured=dt.date(2019, 5, 1))  # fmt: skip
D = Decimal


def test_target_is_tare_plus_rated_net() -> None:
    t = fill_target(A, S)
    assert t.target_gross_kg == D("29.7")
    assert t.max_gross_kg == D("30.1")
    assert t.hard_cap_kg == D("30.1")  # target + 0.5 = 30.2 is above tare + max fill


@given(archives(), st.none() | st.decimals(min_value=D("0.1"), max_value=D("60"), places=2))
def test_target_never_exceeds_tare_plus_max_fill(a: CylinderArchive, net: Decimal | None) -> None:
    t = fill_target(a, S, net)
    assert t.target_gross_kg <= t.hard_cap_kg <= t.max_gross_kg
    assert t.max_gross_kg == a.tare_kg + S.models[a.model].max_fill_kg


@pytest.mark.parametrize(
    ("gross", "flags"),
    [("29.7", set()), ("30.1", set()), ("30.2", {FillFlag.OVER_MAX}), ("29.2", set()),
     ("30.21", {FillFlag.OVERFILL, FillFlag.OVER_MAX}),
     ("30.11", {FillFlag.OVER_MAX}), ("29.19", {FillFlag.UNDERFILL})],
)  # fmt: skip
def test_flags_at_the_edges_of_the_band(gross: str, flags: set[FillFlag]) -> None:
    assert fill_flags(fill_target(A, S), D(gross)) == flags


@pytest.mark.parametrize(
    ("measured", "reasons"),
    [("15.2", ()), ("14.9", ()), ("14.89", (Reason.TARE_BELOW_ARCHIVE,)), ("17.375", ()),
     ("17.376", (Reason.TARE_RESIDUAL_EXCESS,))],
)  # fmt: skip
def test_tare_plausibility(measured: str, reasons: tuple[Reason, ...]) -> None:
    # residual limit: 15 % of 14.5 kg = 2.175 kg above the archived tare
    assert tare_reasons(D(measured), A, S) == reasons


@given(
    st.decimals(min_value=D("0"), max_value=D("1.5"), places=3),
    st.decimals(min_value=D("-1"), max_value=D("1"), places=3),
)
def test_preact_moves_toward_the_error_and_stays_bounded(current: Decimal, error: Decimal) -> None:
    p = PreactSettings()
    new = adapt_preact(current, error, True, p)
    assert p.min_kg <= new <= p.max_kg
    if error > 0:
        assert new >= current
    elif error < 0:
        assert new <= current
    assert abs(new - current) <= abs(error)  # gain below 1: never overcorrects
    # An out-of-band fill moves it too, toward the error, but never by more than max_step_kg.
    odd = adapt_preact(current, error, False, p)
    assert abs(odd - current) <= min(abs(error), p.max_step_kg)
    assert (odd - current) * error >= 0
    # A station's first fill measures what is in flight: the preact becomes preact + error.
    first = adapt_preact(current, error, False, p, learned_fills=0)
    assert first == max(p.min_kg, min(p.max_kg, current + error))


@pytest.mark.parametrize("gain", ["0", "1", "1.5", "-0.1"])
def test_preact_gain_must_be_below_one(gain: str) -> None:
    with pytest.raises(ValueError, match="gain"):
        PreactSettings(gain=D(gain))


def test_target_needs_a_tare_a_known_model_and_a_positive_net() -> None:
    with pytest.raises(ValueError, match="no tare"):
        fill_target(attrs.evolve(A, tare_kg=None), S)
    with pytest.raises(ValueError, match="no tare"):
        fill_target(attrs.evolve(A, tare_kg=D("0")), S)
    with pytest.raises(ValueError, match="unknown model"):
        fill_target(attrs.evolve(A, model="YSP99"), S)
    with pytest.raises(ValueError, match="above zero"):
        fill_target(A, S, D("0"))


@pytest.mark.parametrize("bad", [D("NaN"), D("Infinity"), 29.7])
def test_a_mass_that_cannot_be_compared_is_refused_by_name(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="gross after"):
        fill_flags(fill_target(A, S), bad)
    with pytest.raises(ValueError, match="measured weight"):
        tare_reasons(bad, A, S)
    with pytest.raises(ValueError, match="preact error"):
        adapt_preact(D("0.3"), bad, True, PreactSettings())
    with pytest.raises(ValueError, match="preact gain"):
        PreactSettings(gain=bad)


def test_rated_net_override_is_capped_at_the_maximum_fill() -> None:
    assert fill_target(A, S, D("12.0")).target_gross_kg == D("27.2")
    assert fill_target(A, S, D("20")).target_gross_kg == D("30.1")


@given(archives(), st.decimals(min_value=D("-2"), max_value=D("2"), places=3))
def test_flags_follow_the_band_and_its_edges_are_in_band(a: CylinderArchive, off: Decimal) -> None:
    t = fill_target(a, S)
    flags = fill_flags(t, t.target_gross_kg + off)
    assert (FillFlag.OVERFILL in flags) == (off > t.tolerance_kg)
    assert (FillFlag.UNDERFILL in flags) == (off < -t.tolerance_kg)
    assert (FillFlag.OVER_MAX in flags) == (t.target_gross_kg + off > t.max_gross_kg)
    assert fill_flags(t, t.target_gross_kg + t.tolerance_kg) <= {FillFlag.OVER_MAX}
    assert fill_flags(t, t.target_gross_kg - t.tolerance_kg) == frozenset()
