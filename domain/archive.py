"""The cylinder archive (档案) and the operator record, as plain values.

Fields follow docs/domain.md ("Archive fields") and the `[[cylinder]]` / `[[operator]]` tables of
docs/scenarios.md, whose names are also the CSV headers of `fillfloor registry import`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from attrs import frozen

__all__ = ["CylinderArchive", "CylinderStatus", "Operator"]


class CylinderStatus(StrEnum):
    IN_SERVICE = "in_service"
    SCRAPPED = "scrapped"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


@frozen
class CylinderArchive:
    """What the registry knows of one cylinder. `code` is opaque (docs/domain.md: no national layout)."""

    code: str  # 钢瓶条码号, the code on the label
    owner: str  # unit code holding the property right
    model: str
    tare_kg: Decimal | None  # stamped tare (重量); None when unknown
    manufactured: dt.date | None = None  # 制造日期
    last_inspection: dt.date | None = None  # 末次检验日期
    next_inspection: dt.date | None = None  # None: derived from the inspection interval
    scrap_date: dt.date | None = None  # 报废日期; wins over the service-life rule
    status: CylinderStatus = CylinderStatus.IN_SERVICE
    blocked: bool = False  # blocked by the regulator (the platform's), whatever the status
    manufacturer: str = ""  # 制造单位名称
    serial: str = ""  # 出厂编号
    property_no: str = ""  # 自有产权编号
    volume_l: Decimal | None = None  # 容积
    inspection_unit: str = ""  # 检验单位
    photos: tuple[str, ...] = ()  # content hashes of photos (stamped marks, label, ring)


@frozen
class Operator:
    """A filling operator (充装工) and the validity of their certificate."""

    id: str  # the badge id
    name: str
    certificate_expires: dt.date
    certificate_no: str = ""
