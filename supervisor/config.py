"""The floor's configuration: one TOML file, `fillfloor.toml` (docs/config.md).

Everything a plant sets lives here: the unit, the label rule, every number of the domain rules, the
stations with their devices (addresses, register-map overrides), the console and the platform. A
bad file raises `TomlError` naming the file, the key and the problem (exit status 2 at the CLI).

Each table is read from the fields of the class it becomes (`supervisor.tomlfields`): a key's name,
type, default and limits are written once, on the class, and the reader follows them. What is left
here is what no single field says: which tables there are, the register-map overrides, the model
names a station allows, and the checks across stations (ids, device addresses).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from attrs import field, frozen

from actors.config import VALVE_UNIT_ID, DeviceConfig, ScannerConfig
from actors.registers import KINDS, TYPES, register_map
from domain.fill_settings import FillSettings
from domain.labels import LabelRule
from domain.models import DEFAULT_MODELS, CylinderModel
from domain.setting import FieldProblem, limited
from domain.settings import DomainSettings
from supervisor.tomlcheck import Table, TomlError, load_toml
from supervisor.tomlfields import construct, field_values, read_fields

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
    code: str = field(metadata=limited(pattern=r"[A-Za-z0-9]{2,16}"))  # 单位代码, assigned by the platform
    short_name: str  # 单位简称


@frozen
class StationConfig:
    id: str = field(metadata=limited(pattern=r"[A-Za-z][A-Za-z0-9_-]{0,15}"))
    scale: DeviceConfig
    valve: DeviceConfig
    scanner: ScannerConfig
    # Who cuts a fill off: the weighing indicator, or the host (docs/station.md).
    cutoff: str = field(default="indicator", metadata=limited(choices=("indicator", "host")))
    allowed_models: frozenset[str] | None = None  # None: every model
    fill: FillSettings = field(factory=FillSettings)


_HOST_PORT = r"\[?[0-9A-Za-z.:-]+\]?:[0-9]{1,5}"


@frozen
class ConsoleConfig:
    # Loopback by default; a host (a name, IPv4, or [IPv6]) and a port.
    listen: str = field(default="127.0.0.1:8765", metadata=limited(pattern=_HOST_PORT))
    tls_cert: str = ""
    tls_key: str = ""
    # Connections (docs/operations/en/security.md): sessions in all and per user (past a cap the
    # oldest idle one makes way), connections still logging in, and connections per client address.
    max_sessions: int = field(default=64, metadata=limited(lo=1, hi=4096))
    max_sessions_per_user: int = field(default=4, metadata=limited(lo=1, hi=256))
    max_pending: int = field(default=32, metadata=limited(lo=1, hi=4096))
    max_per_address: int = field(default=64, metadata=limited(lo=1, hi=8192))
    # Web origins whose pages may open the console (space-separated; none by default: a console is
    # a terminal program, and a browser page reaching a loopback console is an attack).
    allowed_origins: str = ""

    def __attrs_post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            missing = "tls_key" if self.tls_cert else "tls_cert"
            raise FieldProblem(missing, "TLS needs both a certificate and a key")


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


def _url_host(url: str) -> str:
    """`http://127.0.0.1:8080/x` -> `127.0.0.1`, `http://[::1]:8080` -> `[::1]`."""
    authority = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if authority.startswith("["):
        return authority[: authority.find("]") + 1]
    return authority.split(":", 1)[0].lower()


@frozen
class PlatformConfig:
    url: str = field(metadata=limited(pattern=r"https?://\S+"))
    key_env: str = "FILLFLOOR_PLATFORM_KEY"  # the unit's signing key is read from this variable
    # Registry pulls; also the longest an idle outbox waits.
    sync_interval_s: float = field(default=30.0, metadata=limited(positive=True))
    verify_tls: bool = True
    ca_file: str = ""  # the plant's own CA bundle for the platform's certificate (default: the system's)
    # Records per upload (the platform takes at most 1000). Measured (docs/benchmarks.md, platform
    # drain): 500 drained 1.19x as fast as 200 and 1000 only 1.07x as fast as 500; a smaller body to
    # push through a slow link before the timeout (a record is 0.2-1.1 KB of JSON: 250-540 KB for
    # 500). Timeouts halve it anyway.
    batch_size: int = field(default=500, metadata=limited(lo=1, hi=1000))

    def __attrs_post_init__(self) -> None:
        if self.ca_file and not self.verify_tls:
            raise FieldProblem("ca_file", "a CA file with verify_tls = false: choose one")
        # Plain HTTP carries the unit's signed records and the registry unauthenticated: a forged
        # reply registered a cylinder. Only a platform on this machine (a lab, the demo) may use it.
        if self.url.startswith("http://") and _url_host(self.url) not in _LOOPBACK_NAMES:
            raise FieldProblem("url", "http:// is for a platform on this machine only: use https://")


@frozen
class FloorConfig:
    unit: UnitConfig
    label: LabelRule
    rules: DomainSettings
    stations: tuple[StationConfig, ...]
    console: ConsoleConfig = field(factory=ConsoleConfig)
    platform: PlatformConfig | None = None
    db: str = ""  # [storage]: a database URL; default SQLite in data_dir
    data_dir: str = "data"  # [storage]


_T = TypeVar("_T")

# The fields of FloorConfig that are tables of their own, not keys of [storage].
_TABLES = ("unit", "label", "rules", "stations", "console", "platform")


def load_config(path: Path) -> FloorConfig:
    return parse_config(load_toml(path), str(path))


def parse_config(doc: dict[str, Any], file: str) -> FloorConfig:
    """The floor's config; every mistake in the file is named at once (`ConfigProblems`), each
    table and each station read on its own, so one mistake does not hide the next."""
    problems: list[TomlError] = []

    def attempt(read: Callable[[], _T], instead: _T) -> _T:
        try:
            return read()
        except TomlError as exc:
            problems.append(exc)
            return instead

    top = Table(doc, file)
    unit = attempt(lambda: _unit(top), None)
    label = (
        attempt(lambda: _read_table(top, "label", LabelRule, given={"unit_code": unit.code}), None)
        if unit
        else None
    )
    models = attempt(lambda: _models(top), dict(DEFAULT_MODELS))
    rules = attempt(lambda: _read_table(top, "rules", DomainSettings, given={"models": models}), None)
    stations = _stations(top, models, problems)
    console = attempt(lambda: _read_table(top, "console", ConsoleConfig), None)
    platform = attempt(lambda: _platform(top.table("platform")), None)
    no_places: dict[str, Any] = {}
    places = attempt(lambda: _storage(top), no_places)
    attempt(top.done, None)
    if problems:
        raise ConfigProblems(problems)
    assert unit is not None
    assert label is not None
    assert rules is not None
    assert console is not None
    return FloorConfig(unit, label, rules, stations, console, platform, **places)


class ConfigProblems(TomlError):
    """Every mistake of a config file, one line each; `where` and `problem` are the first's."""

    def __init__(self, problems: list[TomlError]) -> None:
        first = problems[0]
        super().__init__(first.file, first.where, first.problem)
        self.problems = tuple(problems)
        self.args = ("\n".join(str(p) for p in problems),)

    def __str__(self) -> str:
        return str(self.args[0])


def _unit(top: Table) -> UnitConfig:
    unit_t = top.table("unit", required=True)
    assert unit_t is not None
    unit = read_fields(unit_t, UnitConfig)
    unit_t.done()
    return unit


def _storage(top: Table) -> dict[str, Any]:
    storage = top.table_or_empty("storage")
    places = field_values(storage, FloorConfig, skip=_TABLES)
    storage.done()
    return places


def _read_table(parent: Table, key: str, cls: type[_T], **how: Any) -> _T:
    """The optional table `key` read as `cls` (all defaults when the file leaves it out)."""
    t = parent.table_or_empty(key)
    value = read_fields(t, cls, **how)
    t.done()
    return value


def _models(top: Table) -> dict[str, CylinderModel]:
    models = dict(DEFAULT_MODELS)
    for t in top.tables("model"):
        model = read_fields(t, CylinderModel)
        models[model.name] = model
        t.done()
    return models


def _device(t: Table, kind: str) -> DeviceConfig:
    values = field_values(t, DeviceConfig, skip=("register_map",))
    if kind == "valve":
        values.setdefault("unit_id", VALVE_UNIT_ID)
    values["register_map"] = _register_map(t.table("register_map"), kind)
    dev = construct(t, DeviceConfig, values)
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
    sc = read_fields(t, ScannerConfig)
    # (Checked here, not by the class: the scanner actor refuses these too, and its tests build them.)
    if sc.kind == "serial" and not sc.serial_port:
        raise t.error("serial_port", 'is required for kind = "serial"')
    if sc.kind == "tcp" and not sc.port:
        raise t.error("port", 'is required for kind = "tcp"')
    t.done()
    return sc


# The fields of StationConfig read from tables (or a list) of their own.
_STATION_TABLES = ("scale", "valve", "scanner", "fill", "allowed_models")


def _station_name(i: int, item: dict[str, Any]) -> str:
    """A station as a person counts them (1, 2, ...), with its id when it has a readable one."""
    sid = item.get("id")
    return (
        f"station {i + 1} ({sid})"
        if isinstance(sid, str) and sid.isprintable() and len(sid) <= 16
        else f"station {i + 1}"
    )


def _stations(
    top: Table, models: dict[str, CylinderModel], problems: list[TomlError]
) -> tuple[StationConfig, ...]:
    """Every station; a station with a mistake is named in `problems` and the next one read."""
    stations: list[StationConfig] = []
    seen_ids: set[str] = set()
    endpoints: dict[tuple[str, int, int], str] = {}
    try:
        tables = list(top.tables("station", label=_station_name))
    except TomlError as exc:
        problems.append(exc)
        return ()
    for t in tables:
        try:
            stations.append(_station(t, models, seen_ids, endpoints))
        except TomlError as exc:
            problems.append(exc)
    if not tables:
        problems.append(top.error("station", "at least one [[station]] is required"))
    return tuple(stations)


def _station(t: Table, models: dict[str, CylinderModel], seen_ids: set[str],
             endpoints: dict[tuple[str, int, int], str]) -> StationConfig:  # fmt: skip
    values = field_values(t, StationConfig, skip=_STATION_TABLES)
    sid = values["id"]
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
    fill = _read_table(t, "fill", FillSettings, nested={"preact": "preact_", "guard": "guard_"})
    values.update(scale=scale, valve=valve, scanner=_scanner(t.table("scanner")), fill=fill)
    if allowed is not None:
        values["allowed_models"] = allowed
    station = construct(t, StationConfig, values)
    t.done()
    return station


def _platform(t: Table | None) -> PlatformConfig | None:
    if t is None:
        return None
    p = read_fields(t, PlatformConfig)
    if p.ca_file and not Path(p.ca_file).is_file():
        raise t.error("ca_file", f"no such file: {p.ca_file}")
    t.done()
    return p
