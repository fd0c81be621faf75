"""Signing httpx requests: `httpx.AsyncClient(auth=SigningAuth(party, key))` signs every request.

The platform client and the tests use it; it computes the headers with `signing.sign_request` over
the request as it goes on the wire (`request.url.raw_path` carries the query), with the current
time and a fresh nonce for each request, retries included. `reply_is_authentic` checks the
platform's signature on a reply to one of them (`signing.reply_signature`).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Generator

import httpx

from platform_client.signing import (
    HEADER_NONCE,
    HEADER_REPLY_SIGNATURE,
    fresh_nonce,
    reply_signature,
    sign_request,
)

__all__ = ["SigningAuth"]


class SigningAuth(httpx.Auth):
    requires_request_body = True

    def __init__(
        self,
        party: str,
        key: str,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = fresh_nonce,
    ) -> None:
        self.party = party
        self.key = key
        self._clock = clock
        self._nonce = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        target = request.url.raw_path.decode("ascii")
        headers = sign_request(
            self.party, self.key, request.method, target, request.content, int(self._clock()), self._nonce()
        )
        request.headers.update(headers)
        yield request

    def reply_is_authentic(self, response: httpx.Response, body: bytes) -> bool:
        """Whether `body`, the reply read to the end, was signed by the platform for the very
        request it answers (its status, method, target and nonce)."""
        request = response.request
        nonce = request.headers.get(HEADER_NONCE, "")
        given = response.headers.get(HEADER_REPLY_SIGNATURE, "").lower()
        target = request.url.raw_path.decode("ascii")
        expected = reply_signature(self.key, response.status_code, request.method, target, nonce, body)
        return bool(nonce) and hmac.compare_digest(expected, given)
