"""LPG cylinder models (docs/domain.md, "LPG cylinder models"; GB 5842, GB 17267-1998).

The table holds the defaults; a plant overrides them in its config (verify against the local
regulator). Masses are kilograms as `Decimal`, never floats, so that limits compare exactly.
"""

from __future__ import annotations

from decimal import Decimal

from attrs import field, frozen

from domain.setting import limited

__all__ = ["DEFAULT_MODELS", "CylinderModel"]


_POSITIVE = limited(positive=True)  # (what a [[model]] table may give)


@frozen
class CylinderModel:
    """One cylinder model: its water volume and what may be filled into it."""

    name: str
    water_volume_l: Decimal = field(metadata=_POSITIVE)
    max_fill_kg: Decimal = field(metadata=_POSITIVE)  # never exceeded, whatever the tolerance
    rated_net_kg: Decimal = field(metadata=_POSITIVE)  # the default fill
    tolerance_kg: Decimal  # ± around the rated net

    def __attrs_post_init__(self) -> None:
        if not (Decimal(0) < self.rated_net_kg <= self.max_fill_kg):
            raise ValueError(f"model {self.name}: rated net must be in (0, max fill]")
        if self.tolerance_kg < 0:
            raise ValueError(f"model {self.name}: tolerance must not be negative")


def _m(name: str, volume: str, max_fill: str, rated: str, tol: str) -> CylinderModel:
    return CylinderModel(name, Decimal(volume), Decimal(max_fill), Decimal(rated), Decimal(tol))


DEFAULT_MODELS: dict[str, CylinderModel] = {
    m.name: m
    for m in (
        _m("YSP4.7", "4.7", "1.9", "1.8", "0.1"),
        _m("YSP12", "12", "5.0", "4.8", "0.2"),
        _m("YSP26.2", "26.2", "11.0", "10.5", "0.3"),
        _m("YSP35.5", "35.5", "14.9", "14.5", "0.5"),
        _m("YSP118", "118", "49.5", "48.5", "1.0"),
    )
}
