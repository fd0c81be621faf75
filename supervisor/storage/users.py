"""Console users: who may connect to the console, with which role (docs/architecture.md, Console).

A token is shown once, when the user is added, and stored only as its sha256: a copy of the
database does not let anyone into the console. Revoking keeps the row (the audit trail names it).
"""

from __future__ import annotations

import hashlib
import secrets

from attrs import frozen
from sqlalchemy import Connection, insert, select, update

from domain.roles import OWN_STATION_ONLY, ROLES
from domain.times import utc_now
from supervisor.storage import schema as t

__all__ = [
    "ROLES",
    "ConsoleUser",
    "add_user",
    "find_user",
    "list_users",
    "revoke_user",
    "rotate_user",
    "token_hash",
]


@frozen
class ConsoleUser:
    name: str
    role: str
    station: str | None = None
    created_at: str = ""
    revoked_at: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(conn: Connection, name: str, role: str, station: str | None = None) -> str:
    """Add a user; returns the token (shown once). ValueError for a bad role or a name in use."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role in OWN_STATION_ONLY and not station:
        raise ValueError(f"a user with role {role} needs --station (the station they may act on)")
    u = t.console_user.c
    known = conn.execute(select(u.revoked_at).where(u.name == name)).first()
    if known is not None and known.revoked_at is None:
        raise ValueError(
            f"user {name!r} exists: `fillfloor user rotate {name}` gives them a new token "
            "(or revoke them first to add them again)"
        )
    token = secrets.token_urlsafe(24)
    row = {
        "role": role, "station": station, "token_hash": token_hash(token), "created_at": utc_now(),
        "revoked_at": None,
    }  # fmt: skip
    if known is None:
        conn.execute(insert(t.console_user).values(name=name, **row))
    else:  # revoked: the same name again, as a new user with a new token (the audit keeps the name)
        conn.execute(update(t.console_user).where(u.name == name).values(**row))
    return token


def rotate_user(conn: Connection, name: str) -> str | None:
    """A new token for an active user, the old one refused from now on; None: no active user."""
    token = secrets.token_urlsafe(24)
    result = conn.execute(
        update(t.console_user)
        .where(t.console_user.c.name == name, t.console_user.c.revoked_at.is_(None))
        .values(token_hash=token_hash(token))
    )
    return token if result.rowcount == 1 else None


def find_user(conn: Connection, token: str) -> ConsoleUser | None:
    """The active user holding `token`, if any."""
    row = (
        conn.execute(
            select(t.console_user).where(
                t.console_user.c.token_hash == token_hash(token), t.console_user.c.revoked_at.is_(None)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[ConsoleUser]:
    rows = conn.execute(select(t.console_user).order_by(t.console_user.c.name)).mappings().all()
    return [_user(r) for r in rows]


def revoke_user(conn: Connection, name: str) -> bool:
    result = conn.execute(
        update(t.console_user)
        .where(t.console_user.c.name == name, t.console_user.c.revoked_at.is_(None))
        .values(revoked_at=utc_now())
    )
    return result.rowcount == 1


def _user(row: object) -> ConsoleUser:
    r = dict(row)  # type: ignore[call-overload]
    return ConsoleUser(r["name"], r["role"], r["station"], r["created_at"], r["revoked_at"])
