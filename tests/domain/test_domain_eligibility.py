"""Eligibility on a date: boundaries of the date rules, and every reason at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from hypothesis import given

from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.eligibility import eligibility_reasons, end_of_service_life, next_inspection_date
from domain.operators import certificate_valid, operator_reasons
from domain.reasons import Reason
from domain.settings import DomainSettings
from tests.support.strategies import UNIT, archives, dates

S = DomainSettings()
GOOD = CylinderArchive(
    code="HY00120000123", owner=UNIT, model="YSP35.5", tare_kg=Decimal("15.2"),
    manufactured=dt.date(2019, 5, 1), last_inspection=dt.date(2023, 6, 1),
    next_inspection=dt.date(2027, 6, 1), scrap_date=dt.date(2034, 5, 1),
)  # fmt: skip
TODAY = dt.date(2026, 11, 23)


def test_a_good_cylinder_is_eligible() -> None:
    assert eligibility_reasons(GOOD, UNIT, TODAY, S) == ()


@given(archives(), dates)
def test_inspection_day_itself_is_overdue_and_the_day_before_is_not(a: CylinderArchive, d) -> None:
    a = attrs.evolve(a, next_inspection=d, scrap_date=None, manufactured=None, last_inspection=None)
    assert Reason.CYLINDER_INSPECTION_OVERDUE in eligibility_reasons(a, UNIT, d, S)
    before = d - dt.timedelta(days=1)
    assert Reason.CYLINDER_INSPECTION_OVERDUE not in eligibility_reasons(a, UNIT, before, S)


@given(archives(), dates)
def test_scrap_day_itself_is_past_and_the_day_before_is_not(a: CylinderArchive, d) -> None:
    a = attrs.evolve(a, scrap_date=d)
    assert Reason.CYLINDER_PAST_SCRAP_DATE in eligibility_reasons(a, UNIT, d, S)
    before = d - dt.timedelta(days=1)
    assert Reason.CYLINDER_PAST_SCRAP_DATE not in eligibility_reasons(a, UNIT, before, S)


@given(archives(), dates)
def test_reasons_are_unique_and_unknown_stands_alone(a: CylinderArchive, today) -> None:
    reasons = eligibility_reasons(a, UNIT, today, S)
    assert len(set(reasons)) == len(reasons)
    assert Reason.CYLINDER_UNKNOWN not in reasons
    assert eligibility_reasons(None, UNIT, today, S) == (Reason.CYLINDER_UNKNOWN,)


def test_every_reason_that_applies_is_given() -> None:
    bad = attrs.evolve(GOOD, owner="HY0099", status=CylinderStatus.SCRAPPED,
                       next_inspection=dt.date(2025, 3, 1), tare_kg=None, model="YSP99")  # fmt: skip
    assert eligibility_reasons(bad, UNIT, TODAY, S) == (
        Reason.CYLINDER_NOT_OWN_PROPERTY,
        Reason.CYLINDER_SCRAPPED,
        Reason.CYLINDER_INSPECTION_OVERDUE,
        Reason.CYLINDER_TARE_UNKNOWN,
        Reason.CYLINDER_MODEL_NOT_ALLOWED,
    )


def test_a_scrapped_overdue_foreign_cylinder_gets_three_reasons() -> None:
    bad = attrs.evolve(GOOD, owner="HY0099", status=CylinderStatus.SCRAPPED,
                       next_inspection=dt.date(2026, 11, 23))  # fmt: skip
    assert eligibility_reasons(bad, UNIT, TODAY, S) == (
        Reason.CYLINDER_NOT_OWN_PROPERTY,
        Reason.CYLINDER_SCRAPPED,
        Reason.CYLINDER_INSPECTION_OVERDUE,
    )


@given(archives(), dates)
def test_service_life_ends_on_its_day_without_a_scrap_date(a: CylinderArchive, made) -> None:
    a = attrs.evolve(a, manufactured=made, scrap_date=None, last_inspection=None)
    end = end_of_service_life(a, S)
    assert end is not None
    years = 12 if made >= dt.date(2007, 1, 1) else 15
    assert end.year == made.year + years
    assert Reason.CYLINDER_PAST_SCRAP_DATE in eligibility_reasons(a, UNIT, end, S)
    before = end - dt.timedelta(days=1)
    assert Reason.CYLINDER_PAST_SCRAP_DATE not in eligibility_reasons(a, UNIT, before, S)


def test_blocked_by_status_or_flag() -> None:
    assert Reason.CYLINDER_BLOCKED in eligibility_reasons(
        attrs.evolve(GOOD, status=CylinderStatus.BLOCKED), UNIT, TODAY, S
    )
    assert Reason.CYLINDER_BLOCKED in eligibility_reasons(attrs.evolve(GOOD, blocked=True), UNIT, TODAY, S)


def test_model_not_allowed_on_this_scale() -> None:
    reasons = eligibility_reasons(GOOD, UNIT, TODAY, S, allowed_models=frozenset({"YSP12"}))
    assert reasons == (Reason.CYLINDER_MODEL_NOT_ALLOWED,)


def test_derived_dates_follow_the_interval_and_service_life() -> None:
    a = attrs.evolve(GOOD, next_inspection=None, scrap_date=None)
    assert next_inspection_date(a, S) == dt.date(2027, 6, 1)
    assert end_of_service_life(a, S) == dt.date(2031, 5, 1)  # GB 5842-2006: 12 years
    old = attrs.evolve(a, manufactured=dt.date(2004, 2, 29), last_inspection=None)
    assert end_of_service_life(old, S) == dt.date(2019, 2, 28)  # older: 15 years
    assert next_inspection_date(old, S) == dt.date(2008, 2, 29)


def test_archive_without_any_date_is_not_proven_in_date() -> None:
    a = attrs.evolve(GOOD, manufactured=None, last_inspection=None, next_inspection=None)
    assert Reason.CYLINDER_INSPECTION_OVERDUE in eligibility_reasons(a, UNIT, TODAY, S)


def test_operator_certificate_valid_through_its_expiry_day() -> None:
    op = Operator(id="OP01", name="张三", certificate_expires=dt.date(2027, 1, 1))
    assert certificate_valid(op, dt.date(2027, 1, 1))
    assert not certificate_valid(op, dt.date(2027, 1, 2))
    assert operator_reasons(op, dt.date(2027, 1, 2)) == (Reason.OPERATOR_CERTIFICATE_EXPIRED,)
    assert operator_reasons(None, TODAY) == (Reason.OPERATOR_UNKNOWN,)
    assert operator_reasons(op, TODAY) == ()
