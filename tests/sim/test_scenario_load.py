"""Scenario files: the example loads; every mistake names the file, the entry and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.scenario import ScenarioError, load_scenario
from tests.support.scenario_text import BASE

EXAMPLE = Path(__file__).resolve().parents[2] / "simulator" / "scenarios" / "demo.toml"
EVERY_STEP = """
[platform]
embedded = true
sync_interval_s = 0.5
[[step]]
do = "login"
station = "S1"
operator = "OP01"
[[step]]
do = "precheck"
station = "S1"
cylinder = "HY00120000123"
result = "pass"
checker = "CK01"
items = { appearance = "ok" }
[[step]]
do = "place"
station = "S1"
cylinder = "HY00120000123"
gross_kg = 15.7
[[step]]
do = "scan"
station = "S1"
text = "\\u0000garbage"
[[step]]
do = "wait"
station = "S1"
for = "state:filling"
timeout_s = 5
[[step]]
do = "fault"
station = "S1"
device = "valve"
kind = "stuck_open"
seconds = 2
[[step]]
do = "remove"
station = "S1"
[[step]]
do = "sleep"
seconds = 0.5
[[step]]
do = "pause"
station = "S1"
[[step]]
do = "resume"
station = "S1"
[[step]]
do = "restart"
actor = "S1.scale"
[[step]]
do = "platform"
mode = "down"
seconds = 3
[[step]]
do = "inspect"
cylinder = "HY00120000123"
next_inspection = "2030-06-01"
result = "pass"
[[step]]
do = "regulator"
action = "disable"
target = "S1"
[[step]]
do = "wait_sync"
timeout_s = 10
[[step]]
do = "postcheck"
station = "S1"
cylinder = "HY00120000123"
result = "fail"
[[step]]
do = "logout"
station = "S1"
operator = "OP01"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_example_loads() -> None:
    s = load_scenario(EXAMPLE)
    assert [c.code for c in s.cylinders] == ["HY00120000123", "HY00120000124"]
    assert s.steps[0].do == "login"
    assert s.steps[-1].do == "remove"


def test_every_step_kind_loads(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, BASE + EVERY_STEP))
    assert len(s.steps) == 17
    assert s.steps[3].args["text"] == "\x00garbage"
    assert s.platform is not None


@pytest.mark.parametrize(
    ("extra", "where", "problem"),
    [
        ('[[step]]\ndo = "dance"\n', 'step[0] (do = "dance").do', "unknown step kind"),
        ('[[step]]\ndo = "fault"\nstation = "S1"\ndevice = "scale"\nkind = "stuck_open"\nseconds = 1\n',
         'step[0] (do = "fault").kind', "stuck_open applies to a valve"),
        ('[[step]]\ndo = "remove"\nstation = "S9"\n', 'step[0] (do = "remove").station', "no [[station]]"),
        ('[[step]]\ndo = "wait"\nstation = "S1"\nfor = "state:sleeping"\ntimeout_s = 1\n',
         'step[0] (do = "wait").for', "unknown state"),
        ('[[step]]\ndo = "scan"\nstation = "S1"\ntext = "x"\ncolour = 1\n', 'step[0] (do = "scan").colour',
         "unknown key"),
        ('[[step]]\ndo = "platform"\nmode = "down"\n', 'step[0] (do = "platform").do', "needs a [platform]"),
        ('[[step]]\ndo = "postcheck"\nstation = "S1"\ncylinder = "HY00120000123"\nresult = "pass"\n'
         'items = { leak = false }\n', 'step[0] (do = "postcheck").items.leak', "must be text"),
        ("[extras]\nx = 1\n", "extras", "unknown key"),
        ('scanner = "usb"\n', "station[0].scanner", "must be one of serial, tcp, got 'usb'"),
        ('[platform]\nembedded = false\n', "platform.embedded", "embedded platform only"),
        ('[platform]\n[[step]]\ndo = "inspect"\ncylinder = "HY00129999999"\nnext_inspection = 2030-01-01\n'
         'result = "pass"\n', 'step[0] (do = "inspect").cylinder', "registered cylinders only"),
        ('[platform]\n[[step]]\ndo = "regulator"\naction = "disable"\ntarget = "S9"\n',
         'step[0] (do = "regulator").target', "the unit (HY0012) or a station id"),
        ('[platform]\n[[step]]\ndo = "regulator"\naction = "block"\ntarget = "S1"\n',
         'step[0] (do = "regulator").target', "a [[cylinder]] code"),
    ],
)  # fmt: skip
def test_each_mistake_is_named(tmp_path: Path, extra: str, where: str, problem: str) -> None:
    path = write(tmp_path, BASE + extra)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.where == where
    assert problem in info.value.problem
    assert str(info.value).startswith(str(path))


def test_bad_cylinder_row_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"cylinder\[0\]\.model: unknown model"):
        load_scenario(write(tmp_path, BASE.replace('"YSP35.5"', '"YSP99"')))
