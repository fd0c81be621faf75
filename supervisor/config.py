"""The floor's configuration: one TOML file, `fillfloor.toml` (docs/config.md).

Everything a plant sets lives here: the unit, the label rule, every number of the domain rules, the
stations with their devices (addresses, register-map overrides), the console and the platform. A
bad file raises `TomlError` naming the file, the key and the problem (exit status 2 at the CLI).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs
from attrs import field, frozen

from actors.config import DeviceConfig, ScannerConfig
from actors.registers import KINDS, TYPES, register_map
from domain.fill_guard import GuardSettings
from domain.fill_settings import FillSettings
from domain.filling import PreactSettings
from domain.labels import LabelRule
from domain.models import DEFAULT_MODELS, CylinderModel
from domain.settings import DomainSettings
from supervisor.tomlcheck import Table, load_toml

__all__ = [
    "ConsoleConfig",
    "DeviceConfig",
    "FillSettings",
    "FloorConfig",
    "PlatformConfig",
    "ScannerConfig",
    "StationConfig",
    "UnitConfig",
    "load_config",
    "parse_config",
]

REGISTER_KINDS = KINDS
REGISTER_TYPES = TYPES


@frozen
class UnitConfig:
    code: str  # 单位代码, assigned by the platform
    short_name: str  # 单位简称


@frozen
class StationConfig:
    id: str
    scale: DeviceConfig
    valve: DeviceConfig
    scanner: ScannerConfig
    cutoff: str = "indicator"  # indicator | host (DESIGN.md, Fill control)
    allowed_models: frozenset[str] | None = None
    fill: FillSettings = field(factory=FillSettings)


@frozen
class ConsoleConfig:
    listen: str = "127.0.0.1:8765"  # loopback by default
    tls_cert: str = ""
    tls_key: str = ""


@frozen
class PlatformConfig:
    url: str
    key_env: str = "FILLFLOOR_PLATFORM_KEY"  # the unit's signing key is read from this variable
    sync_interval_s: float = 30.0  # registry pulls; also the longest an idle outbox waits
    verify_tls: bool = True
    ca_file: str = ""  # the plant's own CA bundle for the platform's certificate (default: the system's)
    # Records per upload (the platform takes at most 1000). Measured (docs/benchmarks.md, platform
    # drain): 500 drained 1.19x as fast as 200 and 1000 only 1.07x as fast as 500; a smaller body to
    # push through a slow link before the timeout (a record is 0.2-1.1 KB of JSON: 250-540 KB for
    # 500). Timeouts halve it anyway.
    batch_size: int = 500


@frozen
class FloorConfig:
    unit: UnitConfig
    label: LabelRule
    rules: DomainSettings
    stations: tuple[StationConfig, ...]
    console: ConsoleConfig = field(factory=ConsoleConfig)
    platform: PlatformConfig | None = None
    db: str = ""
    data_dir: str = "data"


def load_config(path: Path) -> FloorConfig:
    return parse_config(load_toml(path), str(path))


def parse_config(doc: dict[str, Any], file: str) -> FloorConfig:
    top = Table(doc, file)
    unit_t = top.table("unit", required=True)
    assert unit_t is not None
    unit = UnitConfig(
        code=unit_t.str("code", pattern=r"[A-Za-z0-9]{2,16}"),
        short_name=unit_t.str("short_name"),
    )
    unit_t.done()
    label = _label(top.table("label"), unit.code)
    models = _models(top)
    rules = _rules(top.table("rules"), models)
    stations = _stations(top, models)
    console = _console(top.table("console"))
    platform = _platform(top.table("platform"))
    storage = top.table("storage")
    db, data_dir = "", "data"
    if storage is not None:
        db = storage.str("db", "")
        data_dir = storage.str("data_dir", "data")
        storage.done()
    top.done()
    return FloorConfig(unit, label, rules, stations, console, platform, db, data_dir)


def _label(t: Table | None, unit_code: str) -> LabelRule:
    if t is None:
        return LabelRule(unit_code=unit_code)
    rule = LabelRule(
        unit_code=unit_code,
        pattern=t.regex("pattern", None, group="code"),
        query_param=t.str("query_param", "code"),
        max_length=t.int("max_length", 256, lo=8, hi=4096),
    )
    t.done()
    return rule


def _models(top: Table) -> dict[str, CylinderModel]:
    models = dict(DEFAULT_MODELS)
    for t in top.tables("model"):
        name = t.str("name")
        try:
            models[name] = CylinderModel(
                name,
                t.decimal("water_volume_l", positive=True),
                t.decimal("max_fill_kg", positive=True),
                t.decimal("rated_net_kg", positive=True),
                t.decimal("tolerance_kg"),
            )
        except ValueError as exc:
            raise t.error(None, str(exc)) from None
        t.done()
    return models


def _rules(t: Table | None, models: dict[str, CylinderModel]) -> DomainSettings:
    base = DomainSettings(models=models)
    if t is None:
        return base
    changes: dict[str, Any] = {}
    for a in attrs.fields(DomainSettings):
        if a.name == "models" or not t.has(a.name):
            continue
        if a.type in ("Decimal", Decimal):
            changes[a.name] = t.decimal(a.name)
        elif a.type in ("int", int):
            changes[a.name] = t.int(a.name, lo=1, hi=100)
        elif a.type in ("float", float):
            changes[a.name] = t.number(a.name, positive=True)
        else:
            changes[a.name] = t.date(a.name)
    t.done()
    try:
        return attrs.evolve(base, **changes)
    except ValueError as exc:  # a value no rule can use (e.g. a residual fraction above 1)
        raise t.error(None, str(exc)) from None


def _device(t: Table, kind: str) -> DeviceConfig:
    protocol = t.choice("protocol", ("tcp", "rtu"), "tcp")
    dev = DeviceConfig(
        protocol=protocol,
        host=t.str("host", "127.0.0.1"),
        port=t.int("port", 502, lo=1, hi=65535),
        serial_port=t.str("serial_port", ""),
        baudrate=t.int("baudrate", 19200, lo=1200, hi=921600),
        parity=t.choice("parity", ("N", "E", "O"), "N"),
        unit_id=t.int("unit_id", 1 if kind == "scale" else 2, lo=1, hi=247),
        poll_hz=t.number("poll_hz", 20.0, positive=True),
        timeout_s=t.number("timeout_s", 0.2, positive=True),
        lost_after=t.int("lost_after", 3, lo=1, hi=100),
        watchdog_ms=t.int("watchdog_ms", 500, lo=50, hi=60000),
        register_map=_register_map(t.table("register_map"), kind),
    )
    if protocol == "rtu" and not dev.serial_port:
        raise t.error("serial_port", 'is required for protocol = "rtu"')
    t.done()
    return dev


def _register_entry(entry: Table) -> dict[str, Any]:
    given = set(entry.names())
    out: dict[str, Any] = {}
    if "address" in given:
        out["address"] = entry.int("address", lo=0, hi=65535)
    if "kind" in given:
        out["kind"] = entry.choice("kind", REGISTER_KINDS)
    if "type" in given:
        out["type"] = entry.choice("type", REGISTER_TYPES)
    if "scale" in given:
        out["scale"] = entry.number("scale", positive=True)
    if "word_order" in given:
        out["word_order"] = entry.choice("word_order", ("big", "little"))
    return out


def _register_map(t: Table | None, device: str) -> dict[str, dict[str, Any]]:
    """Only the keys given: an entry overrides the default map's entry field by field."""
    if t is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in t.names():
        entry = t.table(name)
        assert entry is not None
        out[name] = _register_entry(entry)
        entry.done()
    try:
        register_map(device, out)
    except ValueError as exc:
        raise t.error(None, str(exc).removeprefix("register_map.")) from None
    t.done()
    return out


def _scanner(t: Table | None) -> ScannerConfig:
    if t is None:
        return ScannerConfig()
    kind = t.choice("kind", ("serial", "tcp"), "serial")
    sc = ScannerConfig(
        kind=kind,
        serial_port=t.str("serial_port", ""),
        baudrate=t.int("baudrate", 9600, lo=1200, hi=921600),
        host=t.str("host", "127.0.0.1"),
        port=t.int("port", 0, lo=0, hi=65535),
        badge_pattern=t.regex("badge_pattern", ScannerConfig().badge_pattern),
        max_frame=t.int("max_frame", 512, lo=16, hi=65536),
    )
    if kind == "serial" and not sc.serial_port:
        raise t.error("serial_port", 'is required for kind = "serial"')
    if kind == "tcp" and not sc.port:
        raise t.error("port", 'is required for kind = "tcp"')
    t.done()
    return sc


def _fill(t: Table | None) -> FillSettings:
    if t is None:
        return FillSettings()
    preact, guard = _evolved(t, PreactSettings(), "preact_"), _evolved(t, GuardSettings(), "guard_")
    fill = _evolved(t, FillSettings(preact=preact, guard=guard))
    t.done()
    return fill


_T = TypeVar("_T")


def _evolved(t: Table, base: _T, prefix: str = "") -> _T:
    """`base` with the values the table sets, one key per field (`prefix` + its name), each read as
    its field's type; the class's validators judge the values. Nested settings are left alone."""
    changes: dict[str, Any] = {}
    for a in attrs.fields(type(base)):  # type: ignore[arg-type]
        key = prefix + a.name
        if not t.has(key):
            continue
        if a.type in ("Decimal", Decimal):
            changes[a.name] = t.decimal(key)
        elif a.type in ("bool", bool):
            changes[a.name] = t.bool(key)
        elif a.type in ("int", int):
            changes[a.name] = t.int(key, lo=1, hi=1_000_000)
        elif a.type in ("float", float):
            changes[a.name] = t.number(key)
    try:
        return attrs.evolve(base, **changes)  # type: ignore[misc]
    except ValueError as exc:
        raise t.error(None, str(exc)) from None


def _stations(top: Table, models: dict[str, CylinderModel]) -> tuple[StationConfig, ...]:
    stations: list[StationConfig] = []
    seen_ids: set[str] = set()
    endpoints: dict[tuple[str, int, int], str] = {}
    for t in top.tables("station"):
        sid = t.str("id", pattern=r"[A-Za-z][A-Za-z0-9_-]{0,15}")
        if sid in seen_ids:
            raise t.error("id", f"station {sid} is defined twice")
        seen_ids.add(sid)
        allowed = None
        if t.has("allowed_models"):
            value = t.raw("allowed_models")
            if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
                raise t.error("allowed_models", "must be a list of model names")
            unknown = [m for m in value if m not in models]
            if unknown:
                raise t.error("allowed_models", f"unknown model {unknown[0]!r}")
            allowed = frozenset(value)
        scale_t, valve_t = t.table("scale", required=True), t.table("valve", required=True)
        assert scale_t is not None
        assert valve_t is not None
        scale, valve = _device(scale_t, "scale"), _device(valve_t, "valve")
        for kind, dev in (("scale", scale), ("valve", valve)):
            if dev.protocol == "tcp":
                key = (dev.host, dev.port, dev.unit_id)
                if key in endpoints:
                    raise t.error(
                        f"{kind}.port",
                        f"{dev.host}:{dev.port} unit {dev.unit_id} is already {endpoints[key]}",
                    )
                endpoints[key] = f"{sid}.{kind}"
        stations.append(
            StationConfig(
                id=sid,
                scale=scale,
                valve=valve,
                scanner=_scanner(t.table("scanner")),
                cutoff=t.choice("cutoff", ("indicator", "host"), "indicator"),
                allowed_models=allowed,
                fill=_fill(t.table("fill")),
            )
        )
        t.done()
    if not stations:
        raise top.error("station", "at least one [[station]] is required")
    return tuple(stations)


def _console(t: Table | None) -> ConsoleConfig:
    if t is None:
        return ConsoleConfig()
    c = ConsoleConfig(
        listen=t.str("listen", "127.0.0.1:8765", pattern=r"\[?[0-9A-Za-z.:-]+\]?:[0-9]{1,5}"),
        tls_cert=t.str("tls_cert", ""),
        tls_key=t.str("tls_key", ""),
    )
    if bool(c.tls_cert) != bool(c.tls_key):
        raise t.error("tls_key" if c.tls_cert else "tls_cert", "TLS needs both a certificate and a key")
    t.done()
    return c


def _platform(t: Table | None) -> PlatformConfig | None:
    if t is None:
        return None
    p = PlatformConfig(
        url=t.str("url", pattern=r"https?://\S+"),
        key_env=t.str("key_env", "FILLFLOOR_PLATFORM_KEY"),
        sync_interval_s=t.number("sync_interval_s", 30.0, positive=True),
        verify_tls=t.bool("verify_tls", True),
        ca_file=t.str("ca_file", ""),
        batch_size=t.int("batch_size", 500, lo=1, hi=1000),  # the platform takes at most 1000
    )
    if p.ca_file and not Path(p.ca_file).is_file():
        raise t.error("ca_file", f"no such file: {p.ca_file}")
    if p.ca_file and not p.verify_tls:
        raise t.error("ca_file", "a CA file with verify_tls = false: choose one")
    t.done()
    return p
