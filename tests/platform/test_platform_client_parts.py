"""The platform client's pure parts: backoff with jitter and Retry-After, registry changes read into
updates (or refused with the field named), and the serve command's sync settings."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import attrs
import pytest

from domain.backoff import Backoff
from fillfloor.commands.serve import sync_settings
from platform_client.backoff import RetryBackoff, parse_retry_after
from platform_client.registry_changes import (
    ArchiveUpdate,
    BadChange,
    DisableUpdate,
    InspectionUpdate,
    OperatorUpdate,
    read_change,
)
from supervisor.config import parse_config
from supervisor.errors import BadInput

UNIT = "HY0012"


def test_backoff_doubles_with_jitter_up_to_its_cap_and_starts_over_after_a_success() -> None:
    b = RetryBackoff(Backoff(initial_s=1.0, max_s=8.0), random.Random(7))
    delays = [b.failed() for _ in range(6)]
    for step, delay in zip([1, 2, 4, 8, 8, 8], delays, strict=True):
        assert step / 2 <= delay <= step  # never less than half the step: it does back off
    assert len(set(delays)) == 6, "jittered: floors coming back together do not retry in lockstep"
    b.succeeded()
    assert b.failed() <= 1.0


def test_retry_after_is_a_lower_bound_but_not_an_unbounded_one() -> None:
    b = RetryBackoff(Backoff(initial_s=0.1, max_s=1.0), random.Random(1))
    assert b.failed(retry_after_s=30) == 30
    assert b.failed(retry_after_s=10**9) == 3600


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), (" 120 ", 120.0), ("Wed, 25 Nov 2026 08:00:30 GMT", 30.0),
     ("Wed, 25 Nov 2026 07:00:00 GMT", 0.0), ("soon", None), ("", None), (None, None), ("-1", None)],
)  # fmt: skip
def test_retry_after_reads_seconds_and_http_dates(header: str | None, expected: float | None) -> None:
    now = dt.datetime(2026, 11, 25, 8, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after(header, now) == expected


def change(type_: str, data: Any, seq: int = 7) -> dict[str, Any]:
    return {"seq": seq, "type": type_, "cause": "x", "unit": UNIT, "at": "2026-11-23T00:00:00Z", "data": data}


ARCHIVE = {
    "code": f"{UNIT}0000001", "owner": UNIT, "model": "YSP35.5", "tare_kg": "15.2",
    "manufactured": "2019-05-01", "last_inspection": "2023-06-01", "next_inspection": "2027-06-01",
    "scrap_date": None, "status": "in_service", "blocked": True, "photos": ["ab" * 32],
    "manufacturer": None, "serial": None, "property_no": None, "volume_l": None, "inspection_unit": None,
}  # fmt: skip


def test_each_change_type_reads_into_its_update() -> None:
    archive = read_change(change("archive", ARCHIVE), UNIT)
    assert isinstance(archive, ArchiveUpdate)
    assert archive.archive.blocked
    assert archive.archive.photos == ("ab" * 32,)
    assert str(archive.archive.tare_kg) == "15.2"
    # A model this floor does not know is still the platform's archive: the interlock refuses it.
    odd = read_change(change("archive", {**ARCHIVE, "model": "YSP118"}), UNIT)
    assert isinstance(odd, ArchiveUpdate)
    op = {"id": "OP01", "name": "张三", "certificate_expires": "2027-01-01", "certificate_no": None}
    operator = read_change(change("operator", op), UNIT)
    assert isinstance(operator, OperatorUpdate)
    inspection = read_change(change("inspection", {"code": ARCHIVE["code"], "inspected_on": "2026-11-20",
                                                   "result": "pass", "next_inspection": "2030-11-20",
                                                   "agency": "AG01", "report_no": None}), UNIT)  # fmt: skip
    day, due = dt.date(2026, 11, 20), dt.date(2030, 11, 20)
    assert inspection == InspectionUpdate(ARCHIVE["code"], day, "pass", due, "AG01")
    station = {"unit": UNIT, "id": "S2", "name": "", "enabled": False, "reason": "秤未检定"}
    assert read_change(change("station", station), UNIT) == DisableUpdate("S2", True)
    unit = {"code": UNIT, "short_name": "衡阳燃气", "enabled": True, "reason": ""}
    assert read_change(change("unit", unit), UNIT) == DisableUpdate(None, False)


def test_what_is_not_ours_or_not_known_yet_is_skipped() -> None:
    other = {"unit": "HY0013", "id": "S2", "enabled": False}
    assert read_change(change("station", other), UNIT) is None
    assert read_change(change("unit", {"code": "HY0013", "enabled": False}), UNIT) is None
    assert read_change(change("weather", {"sunny": True}), UNIT) is None


@pytest.mark.parametrize(
    ("type_", "data", "problem"),
    [("archive", {**ARCHIVE, "tare_kg": "heavy"}, "tare_kg"),
     ("archive", {**ARCHIVE, "blocked": "yes"}, "blocked"),
     ("archive", {**ARCHIVE, "photos": [1]}, "photos"),
     ("archive", {**ARCHIVE, "code": None}, "code"),
     ("station", {"unit": UNIT, "id": "S2"}, "enabled"),
     ("station", {"unit": UNIT, "enabled": False}, "id"),
     ("inspection", {"code": "X", "result": "maybe", "inspected_on": "2026-11-20"}, "result"),
     ("operator", {"id": "OP01", "name": "x", "certificate_expires": "soon"}, "certificate_expires"),
     ("unit", [1, 2], "data is not an object")],
)  # fmt: skip
def test_a_change_that_does_not_read_names_what_is_wrong(type_: str, data: Any, problem: str) -> None:
    with pytest.raises(BadChange, match="registry change 7") as info:
        read_change(change(type_, data), UNIT)
    assert problem in info.value.problem


CONFIG = """
[unit]
code = "HY0012"
short_name = "衡阳燃气"
[[station]]
id = "S1"
scale = { host = "127.0.0.1", port = 5020 }
valve = { host = "127.0.0.1", port = 5021 }
scanner = { serial_port = "/dev/ttyUSB0" }
[platform]
url = "https://platform.example.cn/api"
"""


def test_serve_takes_the_platform_key_from_the_environment_only(tmp_path: Path) -> None:
    import tomllib

    config = parse_config(tomllib.loads(CONFIG), "fillfloor.toml")
    with pytest.raises(BadInput, match="FILLFLOOR_PLATFORM_KEY"):
        sync_settings(config, {})
    settings = sync_settings(config, {"FILLFLOOR_PLATFORM_KEY": "ffk_abc"})
    assert settings is not None
    assert (settings.unit_code, settings.key, settings.verify, settings.platform.batch_size) == (
        UNIT,
        "ffk_abc",
        True,
        500,
    )
    assert "ffk_abc" not in repr(settings), "the key is never printed"
    assert settings.platform is config.platform, "the file's settings are held, not copied"
    ca = tmp_path / "ca.pem"
    assert attrs.evolve(settings, platform=attrs.evolve(config.platform, ca_file=str(ca))).verify == str(ca)
