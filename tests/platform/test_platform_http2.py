"""The platform over HTTP/2 (offered over TLS, as hypercorn does by ALPN): a request is
authenticated and its reply signed as over HTTP/1.1, and a body HTTP/2 sends without a declared
length, which HTTP/1.1 cannot, is not authenticated and not stored."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from platform_client.auth import SigningAuth
from platform_client.signing import HEADER_REPLY_SIGNATURE, sign_request
from tests.support.platform_env import UNIT, floor_outbox, platform_env, self_signed_certificate


def _records_body(directory: Path) -> bytes:
    records = floor_outbox(directory, fills=1)
    return json.dumps({"records": records}, ensure_ascii=False).encode("utf-8")


async def test_over_http2_a_request_is_authenticated_and_its_reply_signed(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}", certfile=str(cert), keyfile=str(key)) as env:
        auth = SigningAuth(UNIT, env.keys[UNIT])
        async with env.client(UNIT, verify=trusted, http2=True, auth=auth) as client:
            me = await client.get("/v1/me")
            posted = await client.post(
                "/v1/records", content=_records_body(tmp_path), headers={"Content-Type": "application/json"}
            )
        assert me.http_version == posted.http_version == "HTTP/2"
        assert me.status_code == 200
        assert me.json()["party"] == UNIT
        assert posted.status_code == 200, posted.text
        assert all(auth.reply_is_authentic(r, r.content) for r in (me, posted))
        assert {status for _, _, status in env.events} == {"stored"}


async def test_over_http2_a_body_without_its_length_is_not_authenticated_nor_stored(tmp_path: Path) -> None:
    """HTTP/2 may send a body without Content-Length; the platform reads none past what was declared
    (nothing), so the request cannot be authenticated, though its signature covers the body: an
    unsigned 401, and not one record stored."""
    cert, key = self_signed_certificate(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert))
    body = _records_body(tmp_path)

    async def undeclared() -> AsyncIterator[bytes]:
        yield body

    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}", certfile=str(cert), keyfile=str(key)) as env:
        signed = sign_request(UNIT, env.keys[UNIT], "POST", "/v1/records", body, int(time.time()), "h" * 32)
        async with httpx.AsyncClient(base_url=env.url, verify=trusted, http2=True) as client:
            request = client.build_request(
                "POST", "/v1/records", content=undeclared(),
                headers={**signed, "Content-Type": "application/json"},
            )  # fmt: skip
            answer = await client.send(request)
        assert answer.http_version == "HTTP/2"
        # (httpx marks it chunked; HTTP/2 has no such framing, and httpcore sends the header not)
        assert "content-length" not in request.headers
        assert answer.status_code == 401
        assert answer.json()["error"] == "auth.bad_signature"
        assert HEADER_REPLY_SIGNATURE not in answer.headers
        assert env.events == []
