"""`fillfloor serve --config fillfloor.toml`: the supervisor on the plant's real devices.

The floor as the config describes it (stations, devices, register maps), the registry from the
database (`fillfloor registry import`, `fillfloor operators import`, before or while it runs: an
import reaches the running floor within seconds; with `[platform]` the sync keeps it current),
the console server on `[console] listen` (loopback by default), and the platform sync when
`[platform]` is configured (its key from the environment).
SIGINT/SIGTERM: every valve closed first, a fill under way recorded as interrupted, then the tree
stopped in order. After a stop that left no chance for that (SIGKILL, a power cut), the start
records the fills left open as interrupted (supervisor/storage/interrupted.py) before any new one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import socket
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path

import trio

from fillfloor.commands import add_db_options
from fillfloor.commands._db import DEFAULT_CONFIG, database_location, database_problem
from fillfloor.commands.config_cmd import console_warning
from platform_client.settings import SyncSettings
from supervisor.config import FloorConfig, load_config
from supervisor.errors import BadInput
from supervisor.floor import Floor
from supervisor.registry_watch import read_registry
from supervisor.runtime import EventBus, run_until_signalled
from supervisor.station.floor import FloorState
from supervisor.storage import Database, open_database
from supervisor.storage.floor_lock import floor_lock
from supervisor.storage.interrupted import record_interrupted_fills
from supervisor.storage.registry import regulator_disables
from supervisor.storage.repository import load_holds, load_learning, utc_now

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the floor on the real devices of a config file",
        description="Run the floor: its stations on the devices of the config file (--config, "
        "default ./fillfloor.toml), its records in the database of its [storage] table, its console "
        "and its platform sync. Stops on SIGTERM or Ctrl-C, closing every valve first.",
    )
    add_db_options(parser)
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text",
        help="the journal's lines on stdout: state changes, alarms, refusals, fills (default: text)",
    )  # fmt: skip
    parser.add_argument(
        "--event-file", type=Path, metavar="FILE",
        help="also append every event of the floor to FILE as JSON lines (created 0600)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def _listen(config: FloorConfig) -> tuple[str, int]:
    host, _, port = config.console.listen.rpartition(":")
    return host.strip("[]"), int(port)


def _console_port_free(config: FloorConfig) -> None:
    """The console's address is checked before the floor starts: taken, the console server would
    only fail and be given up by its supervisor, leaving a floor nobody can watch."""
    host, port = _listen(config)
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (as the server binds)
            probe.bind(address)
    except OSError as exc:
        raise BadInput(
            f"[console] listen = {config.console.listen!r}: {exc.strerror or exc} (another fillfloor "
            "serve, or another program, has it; choose another port)"
        ) from None


def _tls(config: FloorConfig) -> ssl.SSLContext | None:
    if not config.console.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.console.tls_cert, config.console.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise BadInput(f"console TLS: {exc}") from None
    return context


def sync_settings(config: FloorConfig, environ: Mapping[str, str]) -> SyncSettings | None:
    """The platform sync's settings from `[platform]`; the key from the environment, never the file."""
    p = config.platform
    if p is None:
        return None
    key = environ.get(p.key_env, "").strip()
    if not key:
        raise BadInput(f"[platform]: the unit's platform key is not set: export {p.key_env}=… (printed by "
                       "`fillfloor platform unit add` on the platform)")  # fmt: skip
    return SyncSettings(p, config.unit.code, key)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config or DEFAULT_CONFIG)
    warning = console_warning(config)
    if warning is not None:
        print(f"fillfloor: {warning}", file=sys.stderr)
    # The command line wins over the config file's [storage] settings.
    db_url, data_dir = database_location(args, config)
    try:
        db = open_database(db_url, Path(data_dir))
    except Exception as exc:  # unreachable, refused, read-only, not a database: one line, no password
        raise BadInput(database_problem(db_url, data_dir, exc)) from None
    try:
        # Before anything else: a second supervisor must not even record the first's fills under way
        # as interrupted (`FloorLocked` names the first, exit 2).
        with floor_lock(db.engine):
            return _run_floor(config, db, journal_json=args.log_format == "json", event_file=args.event_file)
    finally:
        db.close()


def _run_floor(config: FloorConfig, db: Database, *, journal_json: bool = False,
               event_file: Path | None = None) -> int:  # fmt: skip
    from platform_client.api import tls_context
    from supervisor.devices import DeviceActorFactory
    from supervisor.services import add_console, add_journal, add_platform_sync_process, add_registry_watch

    # Under the floor lock (a second serve on this database is named as such, not as a port clash)
    # and before anything is recorded or started.
    _console_port_free(config)
    with db.transaction() as conn:  # before any new fill: the fills a killed supervisor left open
        interrupted = record_interrupted_fills(conn, utc_now(), [s.id for s in config.stations])
    for link in interrupted:
        print(f"fillfloor: fill {link.record_id} (#{link.seq}) was under way when the supervisor last "
              "stopped without closing it: recorded as interrupted", file=sys.stderr)  # fmt: skip
    with db.reading() as conn:
        registry = read_registry(conn)  # (with its change count: the watch reloads from there)
        archives, operators = registry.archives, registry.operators
        learned = load_learning(conn, [s.id for s in config.stations])
        holds = load_holds(conn)
        disabled = regulator_disables(conn)
    if not archives:
        print("fillfloor: warning: no cylinder archives in the registry: every label will be refused "
              "(fillfloor registry import FILE)", file=sys.stderr)  # fmt: skip
    state = FloorState(config.unit.code, dt.date.today, archives.values(), operators.values(), holds=holds)
    for station in disabled:  # the regulator's last word holds while offline, across restarts
        state.set_disabled(station, True)
    floor = Floor(config, db, state, EventBus(), DeviceActorFactory(), learned=learned)
    platform = sync_settings(config, os.environ)
    sync = None
    if platform is not None:
        try:
            tls_context(platform)  # its CA file read here (the sync's process reads it again)
        except (OSError, ssl.SSLError) as exc:
            raise BadInput(f"[platform] ca_file: {exc}") from None
        sync = add_platform_sync_process(floor, platform)
    add_registry_watch(floor, registry)
    add_journal(floor, sys.stdout, json_lines=journal_json, event_file=event_file)
    host, port = _listen(config)
    _tls(config)  # (its files are read here first: a mistake is one line at start, exit 2)
    console = add_console(floor, host=host, port=port, sync=sync)

    async def main(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(floor.run)
            print(f"fillfloor: {len(config.stations)} station(s) running; console on {host}:{console.port}",
                  flush=True)  # fmt: skip
            # Everything made at start-up (imports, config, the floor) lives for the whole run: kept
            # out of the collector's full passes, which otherwise paused the loop 25-35 ms and made
            # every scale's poll slip (docs/benchmarks.md, poll capacity: 128 -> 256 scales at 20 Hz).
            gc.freeze()
            task_status.started()

    signum = trio.run(run_until_signalled, main, floor.close_valves)
    print(f"fillfloor: stopped (signal {signum})" if signum else "fillfloor: stopped", file=sys.stderr)
    return 0
