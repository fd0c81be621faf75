"""Hypothesis strategies shared by the tests (one place, as attrs keeps them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from domain.archive import CylinderArchive, CylinderStatus, Operator
from domain.models import DEFAULT_MODELS

UNIT = "HY0012"

code_tails = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=4, max_size=20)
own_codes = code_tails.map(lambda tail: UNIT + tail)
foreign_codes = (
    st.tuples(
        st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=2, max_size=2),
        st.text(alphabet="0123456789", min_size=4, max_size=4),
        code_tails,
    )
    .map("".join)
    .filter(lambda c: not c.startswith(UNIT))
)

dates = st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2060, 12, 31))
tares = st.decimals(min_value=Decimal("1.0"), max_value=Decimal("80.0"), places=1)
models = st.sampled_from(sorted(DEFAULT_MODELS))


@st.composite
def archives(draw: st.DrawFn, owner: str = UNIT) -> CylinderArchive:
    manufactured = draw(dates)
    last = draw(st.dates(min_value=manufactured, max_value=dt.date(2060, 12, 31)))
    return CylinderArchive(
        code=draw(own_codes),
        owner=owner,
        model=draw(models),
        tare_kg=draw(tares),
        manufactured=manufactured,
        last_inspection=last,
        next_inspection=draw(st.none() | dates),
        scrap_date=draw(st.none() | dates),
        status=draw(st.sampled_from(list(CylinderStatus))),
        manufacturer=draw(st.sampled_from(["", "湖南某钢瓶制造有限公司"])),
        serial=draw(st.sampled_from(["", "A19-004417"])),
        volume_l=draw(st.none() | st.just(Decimal("35.5"))),
    )


@st.composite
def operators(draw: st.DrawFn) -> Operator:
    return Operator(
        id=draw(st.text(alphabet="0123456789ABCDEFOP", min_size=2, max_size=12)),
        name=draw(st.sampled_from(["张三", "李四", "Wang Wu"])),
        certificate_expires=draw(dates),
        certificate_no=draw(st.sampled_from(["", "TS2026-0042"])),
    )


# Characters a label must never carry: C0/C1 controls, DEL, zero-width and bidi format characters.
control_chars = st.characters(categories=("Cc", "Cf"))
