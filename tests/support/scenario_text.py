"""The smallest whole scenario file: one unit, cylinder, operator and station, no steps."""

from __future__ import annotations

BASE = """
today = "2026-11-23"
[unit]
code = "HY0012"
short_name = "衡阳燃气"
[[cylinder]]
code = "HY00120000123"
owner = "HY0012"
model = "YSP35.5"
tare_kg = 15.2
manufactured = "2019-05-01"
[[operator]]
id = "OP01"
name = "张三"
certificate_expires = "2027-01-01"
[[station]]
id = "S1"
flow_kg_s = 2.0
valve_delay_ms = 150
"""
