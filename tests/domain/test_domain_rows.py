"""Rows from CSV/TOML files become archives and operators, or name the bad field."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given

from domain.archive import CylinderArchive, Operator
from domain.rows import (
    FieldError,
    archive_from_row,
    archive_to_row,
    operator_from_row,
    operator_to_row,
)
from tests.support.strategies import archives, operators


def as_csv(row: dict[str, object]) -> dict[str, str]:
    """What csv.DictWriter writes and csv.DictReader reads back: strings, ISO dates."""
    return {k: v.isoformat() if isinstance(v, dt.date) else str(v) for k, v in row.items()}


ROW = {"code": "HY00120000123", "owner": "HY0012", "model": "YSP35.5", "tare_kg": "15.2",
       "manufactured": "2019-05-01", "last_inspection": "2023-06-01", "status": ""}  # fmt: skip


@given(archives())
def test_archive_rows_round_trip(a: CylinderArchive) -> None:
    assert archive_from_row(archive_to_row(a)) == a
    assert archive_from_row(as_csv(archive_to_row(a))) == a


@given(operators())
def test_operator_rows_round_trip(op: Operator) -> None:
    assert operator_from_row(operator_to_row(op)) == op
    assert operator_from_row(as_csv(operator_to_row(op))) == op


def test_extra_csv_values_are_named() -> None:
    with pytest.raises(FieldError, match="more values than the header"):
        archive_from_row({**ROW, None: ["x"]})  # type: ignore[dict-item]


def test_toml_types_that_are_not_the_fields_type_are_named() -> None:
    with pytest.raises(FieldError, match="tare_kg: must be a number"):
        archive_from_row({**ROW, "tare_kg": True})
    with pytest.raises(FieldError, match="code: must be text"):
        archive_from_row({**ROW, "code": 123})
    with pytest.raises(FieldError, match="manufactured: must be a date"):
        archive_from_row({**ROW, "manufactured": dt.datetime(2019, 5, 1, 8, 0)})


def test_csv_strings_and_toml_natives_agree() -> None:
    toml_row = dict(ROW, tare_kg=15.2, manufactured=dt.date(2019, 5, 1),
                    last_inspection=dt.date(2023, 6, 1))  # fmt: skip
    assert archive_from_row(ROW) == archive_from_row(toml_row)
    assert str(archive_from_row(toml_row).tare_kg) == "15.2"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"model": "YSP99"}, "model"), ({"tare_kg": "abc"}, "tare_kg"), ({"tare_kg": "-1"}, "tare_kg"),
     ({"tare_kg": ""}, "tare_kg"), ({"manufactured": "2019-13-01"}, "manufactured"),
     ({"status": "lost"}, "status"), ({"colour": "grey"}, "colour"), ({"code": ""}, "code"),
     ({"last_inspection": "2018-01-01"}, "last_inspection"), ({"tare_kg": "nan"}, "tare_kg")],
)  # fmt: skip
def test_bad_fields_are_named(change: dict[str, str], field: str) -> None:
    with pytest.raises(FieldError) as info:
        archive_from_row({**ROW, **change})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_operator_rows() -> None:
    op = operator_from_row({"id": "OP01", "name": "张三", "certificate_expires": "2027-01-01"})
    assert op.certificate_expires == dt.date(2027, 1, 1)
    with pytest.raises(FieldError, match="certificate_expires"):
        operator_from_row({"id": "OP01", "name": "张三"})
