"""`fillfloor platform ...`: the reference city platform (docs/platform-api.md).

- `serve --db URL --listen HOST:PORT`: run it (loopback by default; SIGINT/SIGTERM end it cleanly);
- `unit add CODE --short-name NAME`: add a filling unit, print its key (shown once);
- `party add --kind agency|regulator NAME [--id ID]`: add an inspection agency or the regulator,
  print its key;
- `party rekey ID`: a new key for a unit, an agency or the regulator (a key that may have leaked),
  printed once; the old one stops working at once;
- `secret rotate --new-secret-file PATH`: seal every key under a new platform secret (the old one
  may have leaked), made at PATH; the platform is then served with the new one;
- `export --unit CODE [--kind fill]`: the unit's stored records as JSON lines (audits, tests).
The platform's database is its own: by default `platform.db` in the data directory, never the
floor's database. The party keys in it are sealed under the platform secret, a file of its own
(`--secret-file`, or $FILLFLOOR_PLATFORM_SECRET_FILE, or `platform.secret` in the data directory;
made on first use, 0600): keep it apart from the database and its backups.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from supervisor.errors import BadInput

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from platform_server.key_seal import KeySeal
    from platform_server.store import PlatformStore

__all__ = ["register"]

PLATFORM_FILE = "platform.db"
SECRET_FILE = "platform.secret"
SECRET_ENV = "FILLFLOOR_PLATFORM_SECRET_FILE"
DEFAULT_LISTEN = "127.0.0.1:8470"


def _db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", help=f"platform database URL (default: SQLite {PLATFORM_FILE} in --data-dir)"
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", default="data", help="where the default SQLite file is (default: ./data)"
    )


def _secret_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-file",
        metavar="PATH",
        help=f"the platform secret that seals the party keys (default: ${SECRET_ENV}, else {SECRET_FILE}"
        " in --data-dir; made on first use): keep it apart from the database and its backups",
    )


def _with_secret(parser: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]) -> None:
    """A command on the platform's database that needs the platform secret."""
    _db_options(parser)
    _secret_option(parser)
    parser.set_defaults(func=func)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "platform", help="the reference city platform: serve, parties, keys, export"
    )
    sub = parser.add_subparsers(dest="platform_command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="serve the platform API over HTTP")
    serve.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"default {DEFAULT_LISTEN}; port 0: any free port",
    )
    _with_secret(serve, run_serve)

    unit = sub.add_parser("unit", help="filling units").add_subparsers(dest="unit_command", required=True)
    unit_add = unit.add_parser("add", help="add a filling unit and print its key (shown once)")
    unit_add.add_argument("code", help="the unit code (单位代码)")
    unit_add.add_argument(
        "--short-name", required=True, help="the unit's short name (单位简称, 4-6 characters)"
    )
    _with_secret(unit_add, run_unit_add)

    party = sub.add_parser("party", help="agencies and the regulator").add_subparsers(
        dest="party_command", required=True
    )
    party_add = party.add_parser("add", help="add an inspection agency or the regulator and print its key")
    party_add.add_argument("name", help="the party's id (e.g. AG01), used to sign its requests")
    party_add.add_argument("--kind", required=True, choices=("agency", "regulator"),
                           help="an inspection agency or the regulator")  # fmt: skip
    party_add.add_argument("--id", help="the party id sent with each request (default: the name, if ASCII)")
    _with_secret(party_add, run_party_add)
    party_rekey = party.add_parser(
        "rekey", help="a new key for a unit, agency or regulator (printed once); the old one stops working"
    )
    party_rekey.add_argument("id", help="the party's id (a unit's code)")
    _with_secret(party_rekey, run_party_rekey)

    secret = sub.add_parser("secret", help="the platform secret").add_subparsers(
        dest="secret_command", required=True
    )
    rotate = secret.add_parser("rotate", help="seal every party key under a new platform secret")
    rotate.add_argument(
        "--new-secret-file",
        required=True,
        metavar="PATH",
        help="where to make the new secret (one there from an earlier run is taken)",
    )
    _with_secret(rotate, run_secret_rotate)

    export = sub.add_parser("export", help="a unit's stored records as JSON lines on stdout")
    export.add_argument(
        "--unit", required=True, metavar="CODE", help="the filling unit whose records to export"
    )
    export.add_argument(
        "--kind", choices=("fill", "check", "refusal", "alarm"), help="only records of this kind"
    )
    _db_options(export)
    export.set_defaults(func=run_export)


def _url(args: argparse.Namespace) -> str:
    if args.db:
        return str(args.db)
    directory = Path(args.data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(directory / PLATFORM_FILE).resolve()}"


def _open(args: argparse.Namespace, *, keys: bool = True) -> PlatformStore:
    """The platform's store; with `keys`, holding the platform secret's seal (the file made on
    first use, when no key is sealed yet)."""
    from platform_server.key_seal import SecretProblem
    from platform_server.store import open_store

    try:
        store = open_store(_url(args), None)
    except OperationalError as exc:
        raise BadInput(f"cannot open the platform database: {exc.orig}") from None
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if keys:
        try:
            store.use_seal(_seal(args, store))
        except SecretProblem as exc:
            store.close()
            raise BadInput(str(exc)) from None
    return store


def _secret_path(args: argparse.Namespace) -> Path:
    given = args.secret_file or os.environ.get(SECRET_ENV)
    return Path(given) if given else Path(args.data_dir) / SECRET_FILE


def _seal(args: argparse.Namespace, store: PlatformStore) -> KeySeal:
    from platform_server.key_seal import SecretProblem, made_or_read, read_secret_file
    from platform_server.parties import has_sealed_keys

    path = _secret_path(args)
    if path.exists():
        return read_secret_file(path)
    with store.reading() as conn:
        if has_sealed_keys(conn):
            raise SecretProblem(
                f"no platform secret at {path}: this platform's keys are sealed under one"
                f" (give its file with --secret-file or ${SECRET_ENV})"
            )
    seal = made_or_read(path)
    print(
        f"fillfloor platform: made the platform secret {path} (it seals the party keys: keep it apart"
        " from the database and its backups; without it no party can be authenticated)",
        file=sys.stderr,
    )
    return seal


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise BadInput(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host.strip("[]"), int(port)


def _check_bindable(host: str, port: int, listen: str) -> None:
    """Bind once and let go, so that a bad address is a message, not a traceback from hypercorn."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(infos[0][4])
    except OSError as exc:
        raise BadInput(f"cannot listen on {listen}: {exc.strerror or exc}") from None


def run_serve(args: argparse.Namespace) -> int:
    import trio

    from platform_server.app import PlatformApp
    from platform_server.serve import serve_platform

    host, port = _listen(args.listen)
    _check_bindable(host, port, args.listen)
    store = _open(args)
    app = PlatformApp(store)
    received: list[int] = []

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

            async def until_signalled() -> None:
                async for signum in signals:
                    received.append(signum)
                    return

            async with trio.open_nursery() as nursery:
                serve = partial(serve_platform, app, host, port, shutdown_trigger=until_signalled)
                url = await nursery.start(serve)
                print(f"fillfloor platform: serving on {url}", flush=True)

    try:
        trio.run(main)
    finally:
        store.close()
    stopped = f"stopped (signal {received[0]})" if received else "stopped"
    print(f"fillfloor platform: {stopped}", file=sys.stderr)
    return 0


def _print_new_key(
    args: argparse.Namespace, make: Callable[[Connection, KeySeal], str], hint: str = ""
) -> int:
    """`make` a party's key in one transaction under the platform secret and print it (shown once)."""
    store = _open(args)
    try:
        with store.transaction() as conn:
            key = make(conn, store.seal)
    except ValueError as exc:
        raise BadInput(f"{exc}{hint}") from None
    finally:
        store.close()
    print(key)
    return 0


def run_unit_add(args: argparse.Namespace) -> int:
    from platform_server.parties import add_unit

    return _print_new_key(args, lambda conn, seal: add_unit(conn, seal, args.code, args.short_name))


def run_party_add(args: argparse.Namespace) -> int:
    from platform_server.parties import add_party

    hint = "" if args.id else " (give --id for a name that is not ASCII)"
    return _print_new_key(
        args, lambda conn, seal: add_party(conn, seal, args.id or args.name, args.kind, args.name), hint
    )


def run_party_rekey(args: argparse.Namespace) -> int:
    from platform_server.parties import rekey

    return _print_new_key(args, lambda conn, seal: rekey(conn, seal, args.id))


def run_secret_rotate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from platform_server.key_seal import SecretProblem, made_or_read, read_secret_file
    from platform_server.parties import reseal_keys

    old_path, new_path = _secret_path(args), Path(args.new_secret_file)
    if new_path.resolve() == old_path.resolve():
        raise BadInput(f"--new-secret-file {new_path} is the secret in use: name a new file")
    store = _open(args, keys=False)  # (the old secret may open none of the keys: a rotation that
    try:  #  committed, though its command did not live to say so; run again, it finds them sealed)
        try:
            old = read_secret_file(old_path)
            new = made_or_read(new_path)
            if new.same_secret(old):  # (a link to it, or a copy)
                raise BadInput(f"{new_path} holds the secret in use: name a new file")
            with store.transaction() as conn:
                resealed, already = reseal_keys(conn, old, new)
        except SecretProblem as exc:
            raise BadInput(str(exc)) from None
        except SQLAlchemyError as exc:
            raise BadInput(
                f"the keys were not sealed under {new_path}: {getattr(exc, 'orig', None) or exc}"
                " (the platform's database busy or out of reach?): run the same command again"
            ) from None
        left_over = store.rewrite_party_keys()
    finally:
        store.close()
    done = f" ({already} were already)" if already else ""
    print(
        f"fillfloor platform: {resealed + already} party key(s) sealed under {new_path}{done}; serve the"
        " platform with --secret-file pointing at it now (restart a running one), then destroy the old"
        f" secret{left_over}",
        file=sys.stderr,
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from platform_server import schema as t

    store = _open(args, keys=False)  # (records only: an auditor's export needs no secret)
    try:
        with store.reading() as conn:
            if conn.execute(select(t.unit.c.code).where(t.unit.c.code == args.unit)).first() is None:
                raise BadInput(f"no unit {args.unit!r} on this platform")
            q = select(
                t.record.c.record_id, t.record.c.kind, t.record.c.unit, t.record.c.at, t.record.c.received_at,
                t.record.c.payload,
            ).where(t.record.c.unit == args.unit)  # fmt: skip
            if args.kind:
                q = q.where(t.record.c.kind == args.kind)
            with conn.execute(q.order_by(t.record.c.id).execution_options(yield_per=2000)) as rows:
                for r in rows.mappings():
                    sys.stdout.write(json.dumps(dict(r), ensure_ascii=False, sort_keys=True) + "\n")
    finally:
        store.close()
    sys.stdout.flush()
    return 0
