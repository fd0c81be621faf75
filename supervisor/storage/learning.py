"""What each station has learned from its fills (preact, flow, fastest flow, the indicator's division
and noise),
kept as station settings so that a restart starts from it, not from the defaults.

Stored one value a key in `station_setting`; a database from before the fill guard holds only the
preact, which is then taken as learned from one fill.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Connection, select

from domain.fill_guard import StationLearning
from supervisor.storage import schema as t
from supervisor.storage.registry import put_station_setting

__all__ = ["load_learning", "set_learning"]

_KEYS = ("preact_kg", "flow_kg_s", "peak_flow_kg_s", "division_kg", "noise_kg", "learned_fills")


def load_learning(conn: Connection, stations: Iterable[str]) -> dict[str, StationLearning]:
    """Each station's learning; stations that learned nothing are left out."""
    s = t.station_setting.c
    wanted = list(stations)
    rows = conn.execute(select(s.station, s.key, s.value).where(s.station.in_(wanted), s.key.in_(_KEYS)))
    found: dict[str, dict[str, str]] = {}
    for station, key, value in rows:
        found.setdefault(str(station), {})[str(key)] = str(value)
    return {station: _learning(values) for station, values in found.items()}


def _learning(values: dict[str, str]) -> StationLearning:
    def number(key: str) -> float | None:
        return float(values[key]) if key in values else None

    def mass(key: str) -> Decimal | None:
        return Decimal(values[key]) if key in values else None

    preact = mass("preact_kg")
    fills = int(values.get("learned_fills", "1" if preact is not None else "0"))
    return StationLearning(
        preact_kg=preact, flow_kg_s=number("flow_kg_s"), peak_flow_kg_s=number("peak_flow_kg_s"),
        division_kg=mass("division_kg"), noise_kg=number("noise_kg"), fills=fills,
    )  # fmt: skip


def set_learning(conn: Connection, station: str, learning: StationLearning) -> None:
    values = {
        "preact_kg": learning.preact_kg, "flow_kg_s": learning.flow_kg_s,
        "peak_flow_kg_s": learning.peak_flow_kg_s, "division_kg": learning.division_kg,
        "noise_kg": learning.noise_kg, "learned_fills": learning.fills,
    }  # fmt: skip
    for key, value in values.items():
        if value is not None:
            put_station_setting(conn, station, key, str(value))
