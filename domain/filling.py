"""Fill targets, post-fill flags, tare plausibility and the adaptive preact.

Sources (docs/domain.md): fill by weight against each cylinder's own stamped tare (GB 14193, TSG 23);
target gross = tare + rated net, never above tare + max fill; a YSP35.5 is 14.5 kg ± 0.5 kg
(GB 17267-1998), never above 14.9 kg. Filling controllers (Mettler-Toledo, HBM) cut off at target
minus the in-flight mass (preact), which adapts from in-band final errors with a gain below 1.
"""

from __future__ import annotations

from decimal import Decimal

from attrs import frozen

from domain.archive import CylinderArchive
from domain.reasons import FillFlag, Reason
from domain.settings import DomainSettings

__all__ = [
    "FillTarget",
    "PreactSettings",
    "adapt_preact",
    "fill_flags",
    "fill_target",
    "tare_reasons",
]


def _mass(name: str, value: Decimal) -> Decimal:
    """A mass the rules can compare: a NaN or infinite reading (or a float) is refused by name."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not (isinstance(value, Decimal) and value.is_finite()):
        raise ValueError(f"{name} must be a finite Decimal mass, got {value!r}")
    return value


@frozen
class FillTarget:
    """What to fill one cylinder to, and the limits around it (all gross kg except the net ones)."""

    tare_kg: Decimal
    rated_net_kg: Decimal
    target_gross_kg: Decimal
    tolerance_kg: Decimal
    max_gross_kg: Decimal  # tare + the model's maximum fill: never to be exceeded
    hard_cap_kg: Decimal  # the host closes at once above this, in either cut-off mode


def fill_target(
    archive: CylinderArchive, settings: DomainSettings, rated_net_kg: Decimal | None = None
) -> FillTarget:
    """The target of an eligible archive (tare known, model known).

    `rated_net_kg` overrides the model's rated net (a station set to a lighter fill), and is capped
    at the model's maximum fill. An archive the eligibility rules refuse (no tare, unknown model)
    raises ValueError: filling it would be a programming error, not an operator's.
    """
    if archive.tare_kg is None or archive.tare_kg <= 0:
        raise ValueError(f"cylinder {archive.code}: no tare")
    model = settings.models.get(archive.model)
    if model is None:
        raise ValueError(f"cylinder {archive.code}: unknown model {archive.model!r}")
    if rated_net_kg is not None and not _mass("rated net override", rated_net_kg) > 0:
        raise ValueError(f"rated net override must be above zero, got {rated_net_kg}")
    net = min(rated_net_kg if rated_net_kg is not None else model.rated_net_kg, model.max_fill_kg)
    tare = archive.tare_kg
    max_gross = tare + model.max_fill_kg
    target = tare + net
    return FillTarget(
        tare_kg=tare,
        rated_net_kg=net,
        target_gross_kg=target,
        tolerance_kg=model.tolerance_kg,
        max_gross_kg=max_gross,
        hard_cap_kg=min(target + model.tolerance_kg, max_gross),
    )


def fill_flags(target: FillTarget, gross_after_kg: Decimal) -> frozenset[FillFlag]:
    """Flags of the re-weigh: the tolerance band's edges themselves are in band."""
    net = _mass("gross after", gross_after_kg) - target.tare_kg
    flags: set[FillFlag] = set()
    if net > target.rated_net_kg + target.tolerance_kg:
        flags.add(FillFlag.OVERFILL)
    if net < target.rated_net_kg - target.tolerance_kg:
        flags.add(FillFlag.UNDERFILL)
    if gross_after_kg > target.max_gross_kg:
        flags.add(FillFlag.OVER_MAX)
    return frozenset(flags)


def tare_reasons(
    measured_kg: Decimal, archive: CylinderArchive, settings: DomainSettings
) -> tuple[Reason, ...]:
    """Is the weight on the scale plausible as this cylinder before filling?"""
    if archive.tare_kg is None or archive.model not in settings.models:
        return ()  # the eligibility rules already refuse these
    model = settings.models[archive.model]
    if _mass("measured weight", measured_kg) < archive.tare_kg - settings.tare_tolerance_kg:
        return (Reason.TARE_BELOW_ARCHIVE,)
    if measured_kg > archive.tare_kg + settings.residual_fraction * model.rated_net_kg:
        return (Reason.TARE_RESIDUAL_EXCESS,)
    return ()


@frozen
class PreactSettings:
    """The adaptive preact (in-flight mass): where it starts, how fast it learns, its bounds."""

    initial_kg: Decimal = Decimal("0.30")
    gain: Decimal = Decimal("0.5")
    min_kg: Decimal = Decimal("0")
    max_kg: Decimal = Decimal("1.5")
    # An out-of-band fill moves the preact by at most this much (an odd fill must not throw it off).
    max_step_kg: Decimal = Decimal("0.1")

    def __attrs_post_init__(self) -> None:
        for name in ("initial_kg", "gain", "min_kg", "max_kg", "max_step_kg"):
            _mass(f"preact {name}", getattr(self, name))
        if not Decimal(0) < self.gain < Decimal(1):
            raise ValueError("preact gain must be between 0 and 1 (exclusive)")
        if not self.min_kg <= self.initial_kg <= self.max_kg:
            raise ValueError("preact initial value must lie within [min, max]")


def adapt_preact(
    current_kg: Decimal, error_kg: Decimal, in_band: bool, p: PreactSettings, *, learned_fills: int = 1
) -> Decimal:
    """The next preact after a completed fill whose final net missed its target by `error_kg`
    (+ = over): the in-flight mass the cut-off should allow for.

    An overshoot means more was in flight than the preact allowed for, so the preact grows by a
    fraction (the gain) of the error. The station's first fill measures its in-flight mass
    outright (gain 1): the initial preact is a guess that may be far off (0.30 kg is ~6 times
    what is in flight at 0.25 kg/s). After that an in-band fill moves it by gain × error, an
    out-of-band one by at most `max_step_kg`, so a preact far off still converges while one odd
    fill (a knocked scale) cannot throw the station off.
    """
    _mass("preact error", error_kg)
    if learned_fills == 0:
        step = error_kg
    else:
        step = p.gain * error_kg
        if not in_band:
            step = max(-p.max_step_kg, min(p.max_step_kg, step))
    # To the gram, as scales read and records keep masses.
    return max(p.min_kg, min(p.max_kg, current_kg + step)).quantize(Decimal("0.001"))
