"""Is this cylinder eligible for filling today? Every archive-based reason that applies.

Sources (docs/domain.md): fill only own-property cylinders (TSG 23-2021); refuse overdue (GB/T 8334:
periodic inspection every 4 years), scrapped or past service life (GB 5842), blocked (refurbished,
modified, under investigation) ones. All reasons that apply are returned, in a stable order, so an
operator and the regulator see the whole picture and not only the first failure.
"""

from __future__ import annotations

import datetime as dt

from domain.archive import CylinderArchive, CylinderStatus
from domain.dates import add_years
from domain.reasons import Reason
from domain.settings import DomainSettings

__all__ = ["eligibility_reasons", "end_of_service_life", "next_inspection_date"]


def next_inspection_date(archive: CylinderArchive, settings: DomainSettings) -> dt.date | None:
    """The archive's next inspection date, else the last inspection (or manufacture) + interval."""
    if archive.next_inspection is not None:
        return archive.next_inspection
    base = archive.last_inspection or archive.manufactured
    return None if base is None else add_years(base, settings.inspection_interval_years)


def end_of_service_life(archive: CylinderArchive, settings: DomainSettings) -> dt.date | None:
    """The scrap date: the archive's where present, else manufacture + the service life."""
    if archive.scrap_date is not None:
        return archive.scrap_date
    if archive.manufactured is None:
        return None
    years = (
        settings.service_life_years_2006
        if archive.manufactured >= settings.gb5842_2006_effective
        else settings.service_life_years_old
    )
    return add_years(archive.manufactured, years)


def eligibility_reasons(
    archive: CylinderArchive | None,
    unit_code: str,
    today: dt.date,
    settings: DomainSettings,
    allowed_models: frozenset[str] | None = None,
) -> tuple[Reason, ...]:
    """Every archive-based refusal for filling `archive` on `today`; empty when eligible."""
    if archive is None:
        return (Reason.CYLINDER_UNKNOWN,)
    reasons: list[Reason] = []
    if archive.owner != unit_code:
        reasons.append(Reason.CYLINDER_NOT_OWN_PROPERTY)
    if archive.status in (CylinderStatus.SCRAPPED, CylinderStatus.CANCELLED):
        reasons.append(Reason.CYLINDER_SCRAPPED)
    scrap = end_of_service_life(archive, settings)
    if scrap is not None and today >= scrap:
        reasons.append(Reason.CYLINDER_PAST_SCRAP_DATE)
    due = next_inspection_date(archive, settings)
    # No inspection date and no manufacture date: nothing proves the cylinder is in date.
    if due is None or today >= due:
        reasons.append(Reason.CYLINDER_INSPECTION_OVERDUE)
    if archive.status == CylinderStatus.BLOCKED or archive.blocked:
        reasons.append(Reason.CYLINDER_BLOCKED)
    if archive.tare_kg is None or archive.tare_kg <= 0:
        reasons.append(Reason.CYLINDER_TARE_UNKNOWN)
    if archive.model not in settings.models or (
        allowed_models is not None and archive.model not in allowed_models
    ):
        reasons.append(Reason.CYLINDER_MODEL_NOT_ALLOWED)
    return tuple(reasons)
