"""Authenticating a request: who signed it, that it is fresh, and that it was never seen before.

Order matters: the cheap checks first (headers, timestamp, that the party exists: all before the
body is read), then the party's key and the signature, and only a correctly signed request may
leave its nonce in the store, so strangers cannot fill it. An unknown party and a bad signature
get the same answer (`not_signed`), so party ids cannot be enumerated. A nonce is kept until its
timestamp leaves the replay window; after that the timestamp alone refuses a replay.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from attrs import frozen
from sqlalchemy import Connection, delete, insert
from sqlalchemy.exc import IntegrityError

from platform_client.signing import (
    HEADER_NONCE,
    HEADER_PARTY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NONCE_PATTERN,
    signature,
)
from platform_server import schema as t
from platform_server.errors import ApiError
from platform_server.parties import Party, find_party

__all__ = ["RequestProof", "authenticate", "not_signed", "read_proof"]


@frozen
class RequestProof:
    """What a request claims about itself, from its headers."""

    party: str
    ts: int
    nonce: str
    signature: str


def _unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": "FF1-HMAC-SHA256"})


def not_signed() -> ApiError:
    """The one answer to an unknown party and to a bad signature alike."""
    return _unauthorized("auth.bad_signature", "the signature does not match the request")


def read_proof(headers: Mapping[str, str], now: float, window_s: int) -> RequestProof:
    """The signing headers, well-formed and within the replay window, or a 401."""
    values = {
        h: headers.get(h.lower()) for h in (HEADER_PARTY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
    }
    missing = [h for h, v in values.items() if not v]
    if missing:
        raise _unauthorized("auth.missing", f"missing header(s): {', '.join(missing)}")
    try:
        ts = int(values[HEADER_TIMESTAMP] or "")
    except ValueError:
        raise _unauthorized("auth.malformed", f"{HEADER_TIMESTAMP} must be Unix seconds") from None
    nonce = values[HEADER_NONCE] or ""
    if not NONCE_PATTERN.fullmatch(nonce):
        raise _unauthorized("auth.malformed", f"{HEADER_NONCE} must be 16-128 of A-Z a-z 0-9 _ -")
    if abs(now - ts) > window_s:
        raise _unauthorized(
            "auth.stale",
            f"timestamp {ts} is {int(now - ts)} s from the platform's clock (window ±{window_s} s)",
        )
    return RequestProof(values[HEADER_PARTY] or "", ts, nonce, (values[HEADER_SIGNATURE] or "").lower())


def authenticate(
    conn: Connection,
    proof: RequestProof,
    key: str,
    method: str,
    target: str,
    body: bytes,
    now: float,
    window_s: int,
) -> Party:
    """Check the signature with the party's `key` (opened from its seal) and spend the nonce; the
    party (still not revoked), or a 401."""
    party = find_party(conn, proof.party)
    if party is None:
        raise not_signed()
    expected = signature(key, method, target, body, proof.ts, proof.nonce)
    if not hmac.compare_digest(expected, proof.signature):
        raise not_signed()
    conn.execute(delete(t.nonce).where(t.nonce.c.expires < int(now)))
    try:
        with conn.begin_nested():
            conn.execute(
                insert(t.nonce).values(party=party.id, nonce=proof.nonce, expires=proof.ts + window_s)
            )
    except IntegrityError:
        raise _unauthorized("auth.replayed", "this nonce was used already") from None
    return party
