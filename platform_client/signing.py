"""Request signing: what a party sends so the platform knows who asks and that nothing was changed.

Pure functions, no I/O: the platform client imports them to sign, the server to verify. The scheme
(docs/platform-api.md, "Signing") is HMAC-SHA256 (RFC 2104, FIPS 180-4) with the party's key over

    FF1-HMAC-SHA256 \\n METHOD \\n PATH?QUERY \\n hex(sha256(BODY)) \\n TIMESTAMP \\n NONCE

where PATH?QUERY is the request target exactly as sent on the wire (percent-encoded; `?QUERY` only
when there is a query), TIMESTAMP is Unix seconds as a decimal integer and NONCE is fresh for every
request (a retry of the same batch is a new request: a new timestamp and nonce). With httpx the
target is `request.url.raw_path`, which already carries the query.

The platform signs its reply to a signed request with the same key, over

    FF1-HMAC-SHA256-REPLY \n STATUS \n METHOD \n PATH?QUERY \n NONCE \n hex(sha256(BODY))

with NONCE the request's: a reply is bound to the one request it answers, so neither a forged
reply nor a recorded one replayed to another request passes (`reply_signature`). Only the floor
and the platform hold the key. No reply given before the request's signature checked out is
signed: a 401 (the platform does not know who asks, and a signed refusal would tell a stranger
which party ids exist), a 411 or 413 (a signed one could be had by altering a real request on the
way), a 429, a 503 (busy or out).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = [
    "HEADER_NONCE",
    "HEADER_PARTY",
    "HEADER_REPLY_SIGNATURE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "NONCE_PATTERN",
    "SCHEME",
    "body_digest",
    "fresh_nonce",
    "reply_signature",
    "sign_request",
    "signature",
    "string_to_sign",
]

SCHEME = "FF1-HMAC-SHA256"
REPLY_SCHEME = "FF1-HMAC-SHA256-REPLY"
HEADER_PARTY = "X-Fillfloor-Party"
HEADER_TIMESTAMP = "X-Fillfloor-Timestamp"
HEADER_NONCE = "X-Fillfloor-Nonce"
HEADER_SIGNATURE = "X-Fillfloor-Signature"
HEADER_REPLY_SIGNATURE = "X-Fillfloor-Reply-Signature"
# 16 to 128 URL-safe characters: enough entropy, nothing a header or a log line trips over.
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, target: str, body: bytes, ts: int, nonce: str) -> str:
    """The exact text the signature covers (see the module docstring)."""
    return "\n".join((SCHEME, method.upper(), target, body_digest(body), str(int(ts)), nonce))


def signature(key: str, method: str, target: str, body: bytes, ts: int, nonce: str) -> str:
    """Hex HMAC-SHA256 of `string_to_sign` under the party's key (its UTF-8 bytes)."""
    text = string_to_sign(method, target, body, ts, nonce)
    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def reply_signature(key: str, status: int, method: str, target: str, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 under the party's key of the platform's reply to one request (module doc).

    Its first line differs from every request's, so a reply's signature never passes for a request.
    """
    text = "\n".join((REPLY_SCHEME, str(int(status)), method.upper(), target, nonce, body_digest(body)))
    return hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_request(
    party: str, key: str, method: str, target: str, body: bytes, ts: int, nonce: str
) -> dict[str, str]:
    """The four headers that authenticate one request of `party`.

    `target` is the path with its query as sent (`/v1/registry/changes?cursor=5`), `ts` Unix
    seconds, `nonce` fresh per request (`fresh_nonce()`).
    """
    if not NONCE_PATTERN.fullmatch(nonce):
        raise ValueError("nonce must be 16-128 characters of A-Z a-z 0-9 _ -")
    return {
        HEADER_PARTY: party,
        HEADER_TIMESTAMP: str(int(ts)),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(key, method, target, body, ts, nonce),
    }


def fresh_nonce() -> str:
    """A random nonce (128 bits) for one request."""
    return secrets.token_hex(16)
