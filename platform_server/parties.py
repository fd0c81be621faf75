"""Parties and their keys: filling units (id = unit code), inspection agencies, the regulator.

A key is made once, returned once (the CLI prints it) and kept by the platform, sealed under the
platform secret (`key_seal`), to check signatures and sign replies. Plain functions on a connection,
in the caller's transaction.
"""

from __future__ import annotations

import re
import secrets

from attrs import frozen
from sqlalchemy import Connection, insert, select, text, update

from domain.times import utc_now
from platform_server import schema as t
from platform_server.key_seal import KeySeal, SecretProblem, is_sealed

__all__ = [
    "KINDS",
    "Party",
    "add_party",
    "add_unit",
    "check_seal",
    "find_party",
    "has_sealed_keys",
    "new_key",
    "rekey",
    "reseal_keys",
    "seal_plain_keys",
]

KINDS = ("unit", "agency", "regulator")
# Party ids travel in a header: ASCII, no spaces. Unit codes (单位代码) follow the same rule.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@frozen
class Party:
    id: str
    kind: str  # unit | agency | regulator
    name: str
    sealed_key: str  # KeySeal.open(id, sealed_key) is the key


def new_key() -> str:
    return "ffk_" + secrets.token_urlsafe(32)


def _check_id(party_id: str) -> None:
    if not _ID.fullmatch(party_id):
        raise ValueError(f"id {party_id!r}: use 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)")


def add_party(conn: Connection, seal: KeySeal, party_id: str, kind: str, name: str) -> str:
    """Add an agency or regulator party; returns its key (kept sealed). A taken id raises ValueError."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    _check_id(party_id)
    if not name.strip() or not name.isprintable():
        raise ValueError("the name must be printable text")
    _hold_keys(conn, seal)
    if conn.execute(select(t.party.c.id).where(t.party.c.id == party_id)).first() is not None:
        raise ValueError(f"party {party_id!r} exists already")
    key = new_key()
    sealed = seal.seal(party_id, key)
    conn.execute(insert(t.party).values(id=party_id, kind=kind, name=name, key=sealed, created_at=utc_now()))
    return key


def add_unit(conn: Connection, seal: KeySeal, code: str, short_name: str) -> str:
    """Add a filling unit (its party and its registry entry); returns its key.

    docs/domain.md: the short name (单位简称) is 4-6 characters, the unit's choice.
    """
    if not 4 <= len(short_name) <= 6 or not short_name.isprintable():
        raise ValueError(f"short name {short_name!r}: 4 to 6 printable characters (docs/domain.md)")
    key = add_party(conn, seal, code, "unit", short_name)
    conn.execute(insert(t.unit).values(code=code, short_name=short_name, enabled=True, reason=""))
    return key


def rekey(conn: Connection, seal: KeySeal, party_id: str) -> str:
    """A new key for the party (the old one no longer signs from the moment this commits, also on a
    running platform: it reads the key for every request); returns it. An unknown or revoked party
    raises ValueError."""
    _hold_keys(conn, seal)
    if find_party(conn, party_id) is None:
        raise ValueError(f"no party {party_id!r} on this platform")
    key = new_key()
    conn.execute(update(t.party).where(t.party.c.id == party_id).values(key=seal.seal(party_id, key)))
    return key


def reseal_keys(conn: Connection, old: KeySeal, new: KeySeal) -> tuple[int, int]:
    """Every key sealed under `old` (or kept in plain text) sealed again under `new`, unchanged: the
    parties go on signing with them. (resealed, already under `new`): a rotation run again after
    one that committed finds its keys sealed. `SecretProblem` for a key neither opens."""
    _hold_keys(conn, None)
    rows = [(str(party_id), str(key)) for party_id, key in conn.execute(select(t.party.c.id, t.party.c.key))]
    resealed = 0
    for party_id, key in rows:
        if is_sealed(key):
            try:
                new.open(party_id, key)
                continue
            except SecretProblem:
                plain = old.open(party_id, key)
        else:
            plain = key
        conn.execute(update(t.party).where(t.party.c.id == party_id).values(key=new.seal(party_id, plain)))
        resealed += 1
    return resealed, len(rows) - resealed


def _hold_keys(conn: Connection, seal: KeySeal | None) -> None:
    """No other command changes a key until the caller's transaction ends (SQLite's write
    transactions are one at a time already; on PostgreSQL, a lock on the table), and `seal` opens
    every key: a `secret rotate` that committed after this command read its secret is a
    `SecretProblem`, not a key sealed under a secret no other key is under."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"LOCK TABLE {t.party.name} IN SHARE ROW EXCLUSIVE MODE"))
    if seal is not None:
        check_seal(conn, seal)


def find_party(conn: Connection, party_id: str) -> Party | None:
    q = select(t.party).where(t.party.c.id == party_id, t.party.c.revoked_at.is_(None))
    row = conn.execute(q).mappings().first()
    return None if row is None else Party(row["id"], row["kind"], row["name"], row["key"])


def seal_plain_keys(conn: Connection, seal: KeySeal) -> int:
    """Seal the keys a platform made before keys were sealed (kept as they were given: the floors
    go on signing with them); how many."""
    rows = [(str(party_id), str(key)) for party_id, key in conn.execute(select(t.party.c.id, t.party.c.key))]
    plain = [(party_id, key) for party_id, key in rows if not is_sealed(key)]
    for party_id, key in plain:
        conn.execute(update(t.party).where(t.party.c.id == party_id).values(key=seal.seal(party_id, key)))
    return len(plain)


def has_sealed_keys(conn: Connection) -> bool:
    return any(is_sealed(str(key)) for (key,) in conn.execute(select(t.party.c.key)))


def check_seal(conn: Connection, seal: KeySeal) -> None:
    """Open every sealed key once: `SecretProblem` at start-up, naming the party, rather than 401s for
    everyone later."""
    for party_id, key in conn.execute(select(t.party.c.id, t.party.c.key)):
        if is_sealed(str(key)):
            seal.open(str(party_id), str(key))
