"""`fillfloor serve --config fillfloor.toml`: the supervisor on the plant's real devices.

The floor as the config describes it (stations, devices, register maps), the registry from the
database (import it first: `fillfloor registry import`, `fillfloor operators import`), the
console server on `[console] listen` (loopback by default). SIGINT/SIGTERM: every valve closed
first, a fill under way recorded as interrupted, then the tree stopped in order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import ssl
import sys
from decimal import Decimal
from pathlib import Path

import trio

from supervisor.commands import add_db_options
from supervisor.config import FloorConfig, load_config
from supervisor.errors import BadInput
from supervisor.floor import Floor
from supervisor.runtime import EventBus, run_until_signalled
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
from supervisor.storage.repository import get_preact, load_archives, load_operators

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="run the floor on the real devices of a config file")
    parser.add_argument("--config", type=Path, default=Path("fillfloor.toml"), metavar="FILE")
    add_db_options(parser)
    parser.set_defaults(func=run)


def _listen(config: FloorConfig) -> tuple[str, int]:
    host, _, port = config.console.listen.rpartition(":")
    return host.strip("[]"), int(port)


def _tls(config: FloorConfig) -> ssl.SSLContext | None:
    if not config.console.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.console.tls_cert, config.console.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise BadInput(f"console TLS: {exc}") from None
    return context


def run(args: argparse.Namespace) -> int:
    from actors.floor_devices import DeviceActorFactory
    from supervisor.console.server import ConsoleServer

    config = load_config(args.config)
    # The command line wins over the config file's [storage] settings.
    data_dir = Path(args.data_dir if args.data_dir != "data" else config.data_dir or "data")
    try:
        db = open_database(args.db or config.db or None, data_dir)
    except Exception as exc:
        raise BadInput(f"cannot open the database: {exc}") from None
    with db.reading() as conn:
        archives, operators = load_archives(conn), load_operators(conn)
        preacts = {s.id: get_preact(conn, s.id) for s in config.stations}
    if not archives:
        print("fillfloor: warning: no cylinder archives in the registry: every label will be refused "
              "(fillfloor registry import FILE)", file=sys.stderr)  # fmt: skip
    state = FloorState(config.unit.code, dt.date.today, archives.values(), operators.values())
    learnt: dict[str, Decimal] = {sid: p for sid, p in preacts.items() if p is not None}
    floor = Floor(config, db, state, EventBus(), DeviceActorFactory(), preacts=learnt)
    host, port = _listen(config)
    console = ConsoleServer(floor, db, host=host, port=port, ssl_context=_tls(config))

    async def main(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(floor.run)
            await nursery.start(console.run)
            print(f"fillfloor: {len(config.stations)} station(s) running; console on {host}:{console.port}",
                  flush=True)  # fmt: skip
            # Everything made at start-up (imports, config, the floor) lives for the whole run: kept
            # out of the collector's full passes, which otherwise paused the loop 25-35 ms and made
            # every scale's poll slip (docs/benchmarks.md, poll capacity: 128 -> 256 scales at 20 Hz).
            gc.freeze()
            task_status.started()

    try:
        signum = trio.run(run_until_signalled, main, floor.close_valves)
    finally:
        db.close()
    print(f"fillfloor: stopped (signal {signum})" if signum else "fillfloor: stopped", file=sys.stderr)
    return 0
