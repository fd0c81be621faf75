"""Every request is signed: a wrong key, an altered body or query, a stale timestamp, a reused nonce,
an unknown party or a missing header is refused with 401 and a reason code."""

from __future__ import annotations

import time

import httpx
import pytest

from platform_client.auth import SigningAuth
from platform_client.signing import HEADER_NONCE, HEADER_REPLY_SIGNATURE, sign_request, string_to_sign
from tests.support.platform_env import REGULATOR, UNIT, platform_env


def test_the_string_to_sign_covers_method_target_body_time_and_nonce() -> None:
    text = string_to_sign("post", "/v1/records?x=1", b"{}", 1700000000, "n" * 16)
    assert text.split("\n") == [
        "FF1-HMAC-SHA256",
        "POST",
        "/v1/records?x=1",
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",  # sha256("{}")
        "1700000000",
        "n" * 16,
    ]
    a = sign_request("P", "k", "GET", "/v1/me", b"", 1700000000, "n" * 16)
    assert a == sign_request("P", "k", "GET", "/v1/me", b"", 1700000000, "n" * 16)  # pure
    assert (
        a["X-Fillfloor-Signature"]
        != sign_request("P", "k2", "GET", "/v1/me", b"", 1700000000, "n" * 16)["X-Fillfloor-Signature"]
    )
    with pytest.raises(ValueError, match="nonce"):
        sign_request("P", "k", "GET", "/v1/me", b"", 1, "short")


async def test_a_signed_request_is_answered_and_each_forgery_refused_with_its_reason(sqlite_url: str) -> None:
    async with platform_env(sqlite_url) as env:
        async with env.client(UNIT) as client:
            r = await client.get("/v1/me")
            assert r.status_code == 200
            assert r.json()["party"] == UNIT
            assert r.json()["kind"] == "unit"

        async def refused(auth: httpx.Auth | None, request: httpx.Request | None = None) -> dict[str, str]:
            async with httpx.AsyncClient(base_url=env.url, auth=auth) as c:
                r = await (c.send(request, auth=auth) if request is not None else c.get("/v1/me"))
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"] == "FF1-HMAC-SHA256"
            return r.json()

        assert (await refused(SigningAuth(UNIT, "ffk_wrong")))["error"] == "auth.bad_signature"
        # An unknown party is answered as a bad signature: party ids cannot be enumerated.
        assert await refused(SigningAuth("NOBODY", "k")) == await refused(SigningAuth(UNIT, "ffk_wrong"))
        stale = SigningAuth(UNIT, env.keys[UNIT], clock=lambda: time.time() - 301)
        body = await refused(stale)
        assert body["error"] == "auth.stale"
        assert "window" in body["detail"]
        assert (await refused(None))["error"] == "auth.missing"

        # Signed for one body, sent with another: the body digest no longer matches.
        ts, nonce = int(time.time()), "a" * 32
        headers = sign_request(UNIT, env.keys[UNIT], "POST", "/v1/records", b'{"records":[]}', ts, nonce)
        headers["Content-Type"] = "application/json"
        req = httpx.Request("POST", f"{env.url}/v1/records", content=b'{"records":[{}]}', headers=headers)
        assert (await refused(None, req))["error"] == "auth.bad_signature"
        # Signed for one query, sent with another.
        target = "/v1/registry/changes?cursor=5"
        headers = sign_request(UNIT, env.keys[UNIT], "GET", target, b"", ts, "b" * 32)
        req = httpx.Request("GET", f"{env.url}/v1/registry/changes?cursor=0", headers=headers)
        assert (await refused(None, req))["error"] == "auth.bad_signature"


async def test_a_replayed_request_is_refused_even_when_correctly_signed(sqlite_url: str) -> None:
    async with platform_env(sqlite_url) as env:
        replay = SigningAuth(UNIT, env.keys[UNIT], nonce=lambda: "same-nonce-every-time")
        async with env.client(UNIT, auth=replay) as client:
            first, second = await client.get("/v1/me"), await client.get("/v1/me")
        assert first.status_code == 200
        assert second.status_code == 401
        assert second.json()["error"] == "auth.replayed"
        # The same nonce is another party's to use: nonces are per party.
        other = SigningAuth(REGULATOR, env.keys[REGULATOR], nonce=lambda: "same-nonce-every-time")
        async with httpx.AsyncClient(base_url=env.url, auth=other) as client:
            assert (await client.get("/v1/me")).status_code == 200


async def test_a_party_calls_only_the_endpoints_of_its_kind(sqlite_url: str) -> None:
    async with platform_env(sqlite_url) as env:
        async with env.client(UNIT) as client:
            r = await client.post("/v1/regulator/actions", json={"action": "disable", "unit": UNIT})
            assert r.status_code == 403
            assert r.json()["error"] == "auth.forbidden"
            r = await client.get("/v1/registry/changes", params={"unit": "HY0013"})
            assert r.status_code == 403
            r = await client.get("/v1/nowhere")
            assert r.status_code == 404
            assert r.json()["error"] == "request.not_found"
        async with env.client(REGULATOR) as client:
            r = await client.post("/v1/records", json={"records": []})
            assert r.status_code == 403


async def test_the_openapi_document_covers_every_endpoint(sqlite_url: str) -> None:
    async with platform_env(sqlite_url) as env, httpx.AsyncClient(base_url=env.url) as client:
        doc = (await client.get("/openapi.json")).json()  # documentation needs no signature
    assert doc["openapi"].startswith("3.1")
    routes = {(r.path, m.lower()) for r in env.app.starlette.routes for m in r.methods - {"HEAD"}}  # type: ignore[attr-defined]
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes - {("/openapi.json", "get")} == documented


async def test_the_platform_signs_each_reply_for_its_request_and_never_a_401(sqlite_url: str) -> None:
    """What the floor checks before acting on a reply (platform_client/api.py): the platform's
    answers, errors included, carry its signature for the very request; a 401 carries none."""
    async with platform_env(sqlite_url) as env:
        auth = SigningAuth(UNIT, env.keys[UNIT])
        async with env.client(UNIT, auth=auth) as client:
            answers = [
                await client.get("/v1/me"),  # 200
                await client.post("/v1/records", json={"records": [{"record_id": 5}]}),  # 422
                await client.post("/v1/regulator/actions", json={}),  # 403: not a unit's call
                await client.post("/v1/records", content=b"{}"),  # 415: no JSON type
            ]
        assert [r.status_code for r in answers] == [200, 422, 403, 415]
        for r in answers:
            assert auth.reply_is_authentic(r, r.content), r.status_code
            # Bound to its request: the same reply does not pass for another (a replay).
            other = r.request.headers.copy()
            other[HEADER_NONCE] = "f" * 32
            replayed_to = httpx.Request(r.request.method, r.request.url, headers=other)
            moved = httpx.Response(r.status_code, headers=r.headers, content=r.content, request=replayed_to)
            assert not auth.reply_is_authentic(moved, r.content)
            assert not auth.reply_is_authentic(r, r.content + b" ")
        async with env.client(UNIT, auth=SigningAuth(UNIT, "ffk_wrong")) as client:
            refused = await client.get("/v1/me")
        assert refused.status_code == 401
        assert HEADER_REPLY_SIGNATURE not in refused.headers
