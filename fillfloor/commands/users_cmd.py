"""`fillfloor user add/list/rotate/revoke`: who may use the console, with which role and token."""

from __future__ import annotations

import argparse
import sys

from domain.roles import OWN_STATION_ONLY, rights
from fillfloor.commands import add_db_options
from fillfloor.commands._db import database_for, floor_config
from supervisor.errors import BadInput
from supervisor.storage.users import ROLES, add_user, list_users, revoke_user, rotate_user

__all__ = ["register"]


def _role_help(role: str) -> str:
    may = ", ".join(rights(role)) or "watch"
    return f"{role} ({may}{'; their own station only' if role in OWN_STATION_ONLY else ''})"


# What each role may do, from the role table (domain/roles.py) rather than spelt out again.
_ROLES_HELP = "Roles: " + "; ".join(_role_help(r) for r in ROLES) + "."


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("user", help="console users: roles and tokens")
    sub = parser.add_subparsers(dest="user_command", metavar="COMMAND", required=True)
    add = sub.add_parser(
        "add",
        help="add a console user and print their token (shown once)",
        description=_ROLES_HELP,
    )
    add.add_argument("name", help="the person's name, as the audit records it")
    add.add_argument("--role", required=True, choices=ROLES, help="what they may do (see above)")
    add.add_argument("--station", help="an operator's own station")
    add_db_options(add)
    add.set_defaults(func=run_add)
    lst = sub.add_parser("list", help="list console users")
    add_db_options(lst)
    lst.set_defaults(func=run_list)
    rot = sub.add_parser(
        "rotate", help="give an active user a new token (printed once; the old one stops working)"
    )
    rot.add_argument("name", help="the user whose token to replace")
    add_db_options(rot)
    rot.set_defaults(func=run_rotate)
    rev = sub.add_parser("revoke", help="revoke a user's token")
    rev.add_argument("name", help="the user whose token to revoke")
    add_db_options(rev)
    rev.set_defaults(func=run_revoke)


def _known_station(args: argparse.Namespace) -> None:
    """An operator's station must be one of the floor's (a typo would give a token for nothing)."""
    config = floor_config(args)
    if config is None:
        print(f"fillfloor: warning: station {args.station} not checked: no config file (give --config FILE)",
              file=sys.stderr)  # fmt: skip
        return
    known = [s.id for s in config.stations]
    if args.station not in known:
        raise BadInput(f"--station {args.station}: not a station of this floor ({', '.join(known)})")


def run_add(args: argparse.Namespace) -> int:
    if args.station is not None:
        _known_station(args)
    with database_for(args) as db, db.transaction() as conn:
        try:
            token = add_user(conn, args.name, args.role, args.station)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with database_for(args, read_only=True) as db, db.reading() as conn:
        users = list_users(conn)
    for u in users:
        state = f"revoked {u.revoked_at}" if u.revoked_at else "active"
        print(f"{u.name}\t{u.role}\t{u.station or '-'}\t{state}")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    with database_for(args) as db, db.transaction() as conn:
        token = rotate_user(conn, args.name)
    if token is None:
        raise BadInput(f"no active user {args.name!r}")
    print(token)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    with database_for(args) as db, db.transaction() as conn:
        if not revoke_user(conn, args.name):
            raise BadInput(f"no active user {args.name!r}")
    print(f"{args.name}: revoked")
    return 0
