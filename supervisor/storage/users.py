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

__all__ = ["ROLES", "ConsoleUser", "add_user", "find_user", "list_users", "revoke_user", "token_hash"]


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
    if conn.execute(select(t.console_user.c.name).where(t.console_user.c.name == name)).first():
        raise ValueError(f"user {name!r} exists (revoke it first, or choose another name)")
    token = secrets.token_urlsafe(24)
    conn.execute(insert(t.console_user).values(
        name=name, role=role, station=station, token_hash=token_hash(token), created_at=utc_now(),
    ))  # fmt: skip
    return token


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
