"""The config file: the example passes; every mistake names the file, the key and the problem."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.config import VALVE_UNIT_ID
from domain.labels import LabelRule
from domain.settings import DomainSettings
from fillfloor.cli import main
from supervisor.config import (
    ConsoleConfig,
    DeviceConfig,
    FillSettings,
    FloorConfig,
    PlatformConfig,
    ScannerConfig,
    StationConfig,
    load_config,
    parse_config,
)
from supervisor.tomlcheck import TomlError

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "fillfloor.example.toml"
MINIMAL = """
[unit]
code = "HY0012"
short_name = "衡阳燃气"
[[station]]
id = "S1"
[station.scale]
port = 5020
[station.valve]
port = 5021
[station.scanner]
serial_port = "/dev/ttyUSB0"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fillfloor.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_documented_example_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_config(EXAMPLE)
    assert [s.id for s in cfg.stations] == ["S1", "S2"]
    assert cfg.stations[0].scale.register_map["gross"]["scale"] == 0.001
    assert main(["config", "check", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_fill_settings_are_read_from_their_fields(tmp_path: Path) -> None:
    keys = "guard_flow_max_kg_s = 4.5\npreact_max_step_kg = 0.05\nmax_fill_time_s = 900\nauto_start = false"
    text = MINIMAL.replace("[station.scale]", f"[station.fill]\n{keys}\n[station.scale]")
    fill = load_config(write(tmp_path, text)).stations[0].fill
    assert (fill.guard.flow_max_kg_s, fill.preact.max_step_kg, fill.max_fill_time_s, fill.auto_start) == (
        4.5, Decimal("0.05"), 900.0, False,
    )  # fmt: skip
    assert fill.guard.flow_min_kg_s == 0.1  # (the rest keep their defaults)


def test_a_key_left_out_takes_the_classs_own_default(tmp_path: Path) -> None:
    """The reader has no defaults of its own: a minimal file gives each class as built without
    arguments (a default written into the reader too, and changed in one place only, fails here)."""
    text = MINIMAL + '[platform]\nurl = "https://platform.example.cn/api"\n'
    cfg = load_config(write(tmp_path, text))
    station = cfg.stations[0]
    assert station == StationConfig(
        "S1",
        DeviceConfig(port=5020),
        DeviceConfig(port=5021, unit_id=VALVE_UNIT_ID),
        ScannerConfig(serial_port="/dev/ttyUSB0"),
    )
    assert station.fill == FillSettings()  # (and so its preact and fill guard settings)
    assert cfg.rules == DomainSettings()
    assert cfg.label == LabelRule("HY0012")
    assert cfg.console == ConsoleConfig()
    assert cfg.platform == PlatformConfig("https://platform.example.cn/api")
    assert (cfg.db, cfg.data_dir) == (
        attrs.fields(FloorConfig).db.default,
        attrs.fields(FloorConfig).data_dir.default,
    )


def test_every_settings_field_is_a_key_the_file_may_set(tmp_path: Path) -> None:
    """Each field is read by its name: set every one to a value other than its default and the
    floor's config holds exactly those values."""
    fill = {
        "max_fill_time_s": 300, "weight_drop_kg": 0.5, "auto_start": False, "preact_initial_kg": 0.4,
        "guard_rate_samples": 5, "guard_division_kg": 0.02,
    }  # fmt: skip
    scale = {"host": "192.0.2.1", "port": 1502, "unit_id": 7, "poll_hz": 10, "timeout_s": 0.5,
             "lost_after": 4, "watchdog_ms": 900, "baudrate": 9600, "parity": "E"}  # fmt: skip
    rules = {"inspection_interval_years": 5, "precheck_window_s": 900, "stable_band_kg": 0.05}
    storage = {"db": "sqlite:///x.db", "data_dir": "var"}

    def table(values: dict[str, object]) -> str:
        return "\n".join(
            f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in values.items()
        )

    text = (
        MINIMAL.replace(
            "[station.scale]\nport = 5020", f"[station.fill]\n{table(fill)}\n[station.scale]\n{table(scale)}"
        )
        + f"[rules]\n{table(rules)}\n[storage]\n{table(storage)}\n"
    )
    cfg = load_config(write(tmp_path, text))
    s = cfg.stations[0]
    assert (s.fill.max_fill_time_s, s.fill.weight_drop_kg, s.fill.auto_start) == (
        300.0,
        Decimal("0.5"),
        False,
    )
    assert (s.fill.preact.initial_kg, s.fill.guard.rate_samples, s.fill.guard.division_kg) == (
        Decimal("0.4"), 5, Decimal("0.02"),
    )  # fmt: skip
    assert s.scale == DeviceConfig(**{**scale, "poll_hz": 10.0, "timeout_s": 0.5})
    assert (cfg.rules.inspection_interval_years, cfg.rules.precheck_window_s, cfg.rules.stable_band_kg) == (
        5, 900.0, Decimal("0.05"),
    )  # fmt: skip
    assert (cfg.db, cfg.data_dir) == ("sqlite:///x.db", "var")


def test_minimal_file_takes_the_domain_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.rules.tare_tolerance_kg == Decimal("0.3")
    assert cfg.stations[0].cutoff == "indicator"
    assert cfg.console.listen == "127.0.0.1:8765"  # loopback by default


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (("port = 5020", 'port = "abc"'), "station 1 (S1).scale.port", "must be an integer 1..65535"),
        (("port = 5020", "port = 5020\nspeed = 3"), "station 1 (S1).scale.speed", "unknown key"),
        (('id = "S1"', 'id = "S1"\ncutoff = "valve"'), "station 1 (S1).cutoff",
         "must be one of indicator, host"),
        (('code = "HY0012"\n', ""), "unit.code", "is required"),
        (("[station.scanner]", "[station.scanner]\nbadge_pattern = '(['"),
         "station 1 (S1).scanner.badge_pattern",
         "not a valid regular expression"),
        (("port = 5021", "port = 5020\nunit_id = 1"), "station 1 (S1).valve.port", "already S1.scale"),
        (("[unit]", "[rules]\ntare_tolerance_kg = -1\n[unit]"), "rules.tare_tolerance_kg", "a number ≥ 0"),
        (("[unit]", '[label]\npattern = "HY[0-9]+"\n[unit]'), "label.pattern", "(?P<code>...)"),
        (("[unit]", "[rules]\nresidual_fraction = 1.5\n[unit]"), "rules", "residual_fraction"),
        (("[station.scale]", "[station.fill]\nguard_flow_min_kg_s = 4.0\n[station.scale]"),
         "station 1 (S1).fill",
         "flow_min_kg_s must be below flow_max_kg_s"),
        (("[station.scale]", "[station.fill]\nguard_nope = 1\n[station.scale]"),
         "station 1 (S1).fill.guard_nope",
         "unknown key"),
        (("[station.scale]", "[station.fill]\nweight_drop_kg = 0\n[station.scale]"), "station 1 (S1).fill",
         "weight_drop_kg must be above zero"),
        (("port = 5020", 'protocol = "rtu"'), "station 1 (S1).scale.serial_port",
         'required for protocol = "rtu"'),
        (("port = 5021", "port = 5021\nwatchdog_ms = 10"), "station 1 (S1).valve.watchdog_ms",
         "integer 50..60000"),
        (("[station.scanner]", "[station.scanner]\nkind = 'usb'"), "station 1 (S1).scanner.kind",
         "one of serial, tcp"),
        (("[unit]", "[rules]\ninspection_interval_years = 0\n[unit]"), "rules.inspection_interval_years",
         "an integer 1..100"),
        (("[unit]", "[console]\ntls_cert = 'c.pem'\n[unit]"), "console.tls_key",
         "both a certificate and a key"),
        (("[unit]", "[platform]\nurl = 'https://p.cn'\nca_file = 'x'\nverify_tls = false\n[unit]"),
         "platform.ca_file", "choose one"),
        (("[unit]", "[platform]\nurl = 'ftp://p.cn'\n[unit]"), "platform.url", "must match"),
        (("[unit]", "[platform]\nbatch_size = 5000\n[unit]"), "platform.url", "is required"),
        (("[unit]", "[storage]\ndb = 3\n[unit]"), "storage.db", "must be text"),
        (("[unit]", "[[model]]\nname = 'X'\nwater_volume_l = 0\nmax_fill_kg = 1\nrated_net_kg = 1\n"
                    "tolerance_kg = 0\n[unit]"), "model[0].water_volume_l", "a positive number"),
    ],
)  # fmt: skip
def test_each_mistake_is_named(tmp_path: Path, change: tuple[str, str], where: str, problem: str) -> None:
    path = write(tmp_path, MINIMAL.replace(*change, 1))
    with pytest.raises(TomlError) as info:
        load_config(path)
    assert info.value.where == where
    assert problem in info.value.problem
    assert str(info.value).startswith(f"{path}: {where}: ")


def test_duplicate_station_and_bad_syntax(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dup = MINIMAL + MINIMAL[MINIMAL.index("[[station]]") :].replace("5020", "6020").replace("5021", "6021")
    with pytest.raises(TomlError, match=r"station 2 \(S1\)\.id: station S1 is defined twice"):
        load_config(write(tmp_path, dup))
    path = write(tmp_path, "[unit\ncode=")
    assert main(["config", "check", str(path)]) == 2
    assert "invalid TOML" in capsys.readouterr().err


values = st.recursive(
    st.none().map(lambda _: "x") | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@given(st.dictionaries(st.sampled_from(["unit", "station", "rules", "label", "console", "x"]), values))
def test_arbitrary_documents_give_a_clean_error_or_a_config(doc: dict) -> None:
    try:
        parse_config(doc, "f.toml")
    except TomlError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith("f.toml: ")


def test_example_has_no_unknown_sections() -> None:
    assert set(tomllib.loads(EXAMPLE.read_text("utf-8"))) <= {
        "unit", "label", "rules", "model", "station", "console", "platform", "storage",
    }  # fmt: skip


def test_every_mistake_is_named_at_once_stations_counted_from_one(tmp_path: Path, capsys) -> None:
    """Issue 20: config check stopped at the first mistake, and counted stations from 0."""
    second = MINIMAL[MINIMAL.index("[[station]]") :].replace('id = "S1"', 'id = "S2"')
    second = second.replace("port = 5020", 'port = "abc"', 1)
    first = MINIMAL.replace("port = 5020", "port = 5020\nspeed = 3", 1)
    two = first.replace("[unit]", "[rules]\ntare_tolerance_kg = -1\n[unit]", 1) + second
    path = write(tmp_path, two)
    assert main(["config", "check", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(f"{path}: ")[1].split(": ")[0] for line in lines] == [
        "rules.tare_tolerance_kg", "station 1 (S1).scale.speed", "station 2 (S2).scale.port"]  # fmt: skip


def test_a_console_open_beyond_the_machine_without_tls_is_warned_about(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, MINIMAL.replace("[unit]", '[console]\nlisten = "0.0.0.0:8765"\n[unit]', 1))
    assert main(["config", "check", str(path)]) == 0
    assert "warning: [console] listen 0.0.0.0:8765 without tls_cert and tls_key" in capsys.readouterr().err
