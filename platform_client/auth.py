"""Signing httpx requests: `httpx.AsyncClient(auth=SigningAuth(party, key))` signs every request.

The platform client and the tests use it; it computes the headers with `signing.sign_request` over
the request as it goes on the wire (`request.url.raw_path` carries the query), with the current
time and a fresh nonce for each request, retries included.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx

from platform_client.signing import fresh_nonce, sign_request

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
