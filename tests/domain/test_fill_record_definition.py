"""The fill record defined once (domain/records.py): its tables, its rows and its chained content
derive from the class, and what they derive must be what the migrations made and what every
stored hash was computed from."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from attrs import frozen
from sqlalchemy import inspect, select

from domain.chain import CHAIN_FIELDS, CHAIN_FIELDS_IF_SET, GENESIS, canonical_content, link_columns
from domain.records import FillOpened, FillRecord
from domain.stored import FieldKind, stored, stored_fields
from platform_server.fields import Fields
from platform_server.records import Checked, RecordResult, check_record
from supervisor.storage import open_database
from supervisor.storage import schema as t
from supervisor.storage.outbox import outbox_payload
from supervisor.storage.record_rows import record_from_row, record_row
from supervisor.storage.repository import store

AT = "2026-11-23T08:00:00.000+00:00"
FULL = FillRecord(
    record_id="r1", cylinder="HY1", station="S1", operator="OP1", outcome="completed", started_at=AT,
    ended_at="2026-11-23T08:01:00.000+00:00", tare_kg=Decimal("15.2"), target_kg=Decimal("29.7"),
    gross_kg=Decimal("29.7124"), net_kg=Decimal("14.51"), error_g=12, flags=("underfill", "b"),
    gross_before_kg=Decimal("15.3"), preact_kg=Decimal("0.4"), precheck_id="c1",
)  # fmt: skip
# As a fill before migration 0003: none of the fields added since.
BARE = attrs.evolve(FULL, gross_before_kg=None, preact_kg=None, precheck_id=None)

# Pinned (computed by the floor before the record had one definition): the content and chain hash
# of a fill must never change, or every chain stored so far stops verifying.
FULL_CONTENT = (
    '{"cylinder_code":"HY1","ended_at":"2026-11-23T08:01:00.000+00:00","error_g":12,'
    '"flags":["b","underfill"],"gross_before_kg":"15.3","gross_kg":"29.712","net_kg":"14.51",'
    '"operator_id":"OP1","outcome":"completed","preact_kg":"0.4","precheck_id":"c1","reason":null,'
    '"record_id":"r1","seq":1,"started_at":"2026-11-23T08:00:00.000+00:00","station":"S1",'
    '"tare_kg":"15.2","target_kg":"29.7"}'
)
FULL_HASH = "d9c5b6412a41c38692d1081a82f73e1c6c6c9db6f41fd9832eaad69a6119e171"
BARE_CONTENT = (
    '{"cylinder_code":"HY1","ended_at":"2026-11-23T08:01:00.000+00:00","error_g":12,'
    '"flags":["b","underfill"],"gross_kg":"29.712","net_kg":"14.51","operator_id":"OP1",'
    '"outcome":"completed","reason":null,"record_id":"r1","seq":1,'
    '"started_at":"2026-11-23T08:00:00.000+00:00","station":"S1","tare_kg":"15.2","target_kg":"29.7"}'
)
BARE_HASH = "b74f8a2ed3e7182da507e5ff8e06668a6ed77488db981006a11790dc441367d5"


@pytest.mark.parametrize(("record", "content", "chain_hash"), [(FULL, FULL_CONTENT, FULL_HASH),
                                                                (BARE, BARE_CONTENT, BARE_HASH)])  # fmt: skip
def test_a_known_fill_is_chained_with_the_same_content_and_hash(
    db_url: str, record: FillRecord, content: str, chain_hash: str
) -> None:
    db = open_database(db_url)
    try:
        with db.transaction() as conn:
            link = store(conn, record)
        with db.reading() as conn:
            row = conn.execute(select(t.fill.c.content, t.fill.c.hash)).one()
    finally:
        db.close()
    assert row.content == content
    assert (row.hash, link.hash if link else None) == (chain_hash, chain_hash)


@pytest.mark.parametrize("table", ["fill", "fill_open"])
def test_the_derived_table_is_the_migrated_one(db_url: str, table: str) -> None:
    """Column by column: name, type, nullability, as the migrations made them."""
    db = open_database(db_url)
    try:
        with db.reading() as conn:
            migrated = {c["name"]: c for c in inspect(conn).get_columns(table)}
            dialect = conn.dialect
    finally:
        db.close()
    derived = t.metadata.tables[table].columns
    assert set(migrated) == {c.name for c in derived}
    for c in derived:
        found = migrated[c.name]
        declared = c.type.compile(dialect=dialect)
        assert (c.name, found["type"].compile(dialect=dialect), found["nullable"]) == (
            c.name,
            declared,
            c.nullable,
        )


def test_a_marker_row_reads_back_as_its_marker_and_ends_as_an_interrupted_fill() -> None:
    opened = FillOpened(record_id="r2", station="S1", cylinder="HY2", operator=None, started_at=AT,
                        tare_kg=Decimal("15.2"), topup_of="r1")  # fmt: skip
    row = record_row(opened)
    assert list(row) == [c.name for c in t.fill_open.columns]
    assert record_from_row(FillOpened, row) == opened
    fill = opened.interrupted("2026-11-23T08:09:00.000+00:00", "supervisor.shutdown")
    assert (fill.outcome, fill.reason, fill.gross_kg, fill.topup_of) == ("interrupted", "supervisor.shutdown",
                                                                        None, "r1")  # fmt: skip


def test_a_fill_row_is_its_fields_by_column_masses_to_the_gram() -> None:
    row = record_row(FULL)
    assert list(row) == [c.name for c in t.fill.columns][1:-4]  # not seq, nor the link's columns
    assert (row["cylinder_code"], row["gross_kg"], row["flags"]) == (
        "HY1",
        Decimal("29.712"),
        ["b", "underfill"],
    )


def test_kinds_and_nullability_come_from_the_field_types() -> None:
    fields = {f.name: f for f in stored_fields(FillRecord)}
    assert (fields["cylinder"].column, fields["cylinder"].kind, fields["cylinder"].nullable) == (
        "cylinder_code",
        FieldKind.TEXT,
        False,
    )
    assert (fields["tare_kg"].kind, fields["tare_kg"].nullable) == (FieldKind.MASS, True)
    assert (fields["flags"].kind, fields["error_g"].kind) == (FieldKind.NAMES, FieldKind.COUNT)

    @frozen
    class NoLength:
        name: str = stored()

    with pytest.raises(TypeError, match="needs its length"):
        stored_fields(NoLength)


def test_the_chained_fields_are_those_every_stored_hash_was_computed_from() -> None:
    assert CHAIN_FIELDS == (
        "seq", "record_id", "cylinder_code", "station", "operator_id", "outcome", "reason", "tare_kg",
        "target_kg", "gross_kg", "net_kg", "error_g", "flags", "started_at", "ended_at",
    )  # fmt: skip
    # Added since the first schema (migrations 0003, 0007): chained only when set.
    assert CHAIN_FIELDS_IF_SET == ("gross_before_kg", "preact_kg", "precheck_id", "topup_of")


def _payload(record: FillRecord) -> dict[str, object]:
    """A fill's outbox payload as the floor sends it: its row as JSON, seq 1, its link's columns."""
    row = {"seq": 1, **record_row(record)}
    return outbox_payload({**row, **link_columns(GENESIS, canonical_content(row))})


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({}, None, None),
        ({"cylinder_code": ""}, None, None),  # a fill that failed early: still a fill
        ({"precheck_id": "c" * 65}, "record.bad_field", "precheck_id"),  # its declared length
        ({"outcome": "spilled"}, "record.bad_field", "outcome"),  # its declared choices
        ({"ended_at": "08:01"}, "record.bad_field", "ended_at"),  # a time
        ({"ended_at": None}, "record.missing_field", "ended_at"),  # not optional
        ({"error_g": "12"}, "record.bad_field", "error_g"),  # a count
        ({"topup_of": None}, None, None),  # optional
    ],
)
def test_the_platform_checks_a_fill_by_the_fields_the_record_declares(
    change: dict[str, object], reason: str | None, field: str | None
) -> None:
    record = attrs.evolve(FULL, cylinder="") if change.get("cylinder_code") == "" else FULL
    payload = {**_payload(record), **change}
    checked = check_record("r1", Fields({"kind": "fill", "payload": payload}, "records[0]"))
    if reason is None:
        assert isinstance(checked, Checked), checked
        assert (checked.cylinder_code, checked.at, checked.seq) == (record.cylinder or None, FULL.ended_at, 1)
    else:
        assert isinstance(checked, RecordResult)
        assert (checked.reason, checked.field) == (reason, f"records[0].payload.{field}")


def test_the_open_marker_keeps_each_of_its_fields_as_the_fill_does() -> None:
    """A marker becomes its fill's record (`FillOpened.interrupted`): same columns, same rules."""
    fill = {f.name: attrs.evolve(f, since=None) for f in stored_fields(FillRecord)}
    marker = stored_fields(FillOpened)
    assert [f for f in marker if fill.get(f.name) != f] == []
