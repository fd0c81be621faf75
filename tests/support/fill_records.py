"""Fill records numbered n, as the storage tests write them."""

from __future__ import annotations

from decimal import Decimal

from supervisor.storage import FillRecord


def fill(n: int) -> FillRecord:
    """Fill n at S1, ended n minutes into the hour (odd ones underfilled and with a fill's details)."""
    return FillRecord(
        record_id=f"fill-{n:04d}", cylinder="HY00120000123", station="S1", operator="OP01",
        outcome="completed", started_at="2026-11-23T08:00:00.000+00:00",
        ended_at=f"2026-11-23T08:{n % 60:02d}:30.000+00:00", tare_kg=Decimal("15.2"),
        target_kg=Decimal("29.7"), gross_kg=Decimal("29.712"), net_kg=Decimal("14.512"), error_g=12,
        flags=("underfill",) if n % 2 else (),
        # Fills before migration 0003 had no details; odd ones here carry them.
        **({"gross_before_kg": Decimal("15.31"), "preact_kg": Decimal("0.42"), "precheck_id": f"chk-{n}"}
           if n % 2 else {}),
    )  # fmt: skip


def fill_at_station(n: int) -> FillRecord:
    """Fill n at station S(n % 8), without a fill's details."""
    return FillRecord(
        record_id=f"fill-{n:04d}", cylinder="HY00120000123", station=f"S{n % 8}", operator="OP01",
        outcome="completed", started_at="2026-11-23T08:00:00.000+00:00",
        ended_at="2026-11-23T08:01:00.000+00:00", tare_kg=Decimal("15.2"), net_kg=Decimal("14.512"),
    )  # fmt: skip
