"""The reference city platform as an ASGI app (Starlette), every request authenticated.

`PlatformApp(store, ...)` is the whole platform: give it to hypercorn (`serve.serve_platform`).
Each endpoint names the party kinds that may call it; the request is read (bounded), its signature
checked (`auth`), and the work done in one database transaction off the loop (`store`). Errors are
JSON bodies with a stable code (`errors`). Every reply to a request whose signature checked out
(errors too) is signed with that party's key and bound to its request's nonce
(`platform_client.signing.reply_signature`): the floor acts on no reply that is not signed. The
answers given before that (401, 411, 413, 429, 503) are not signed.
`faults` switches outages on for scenarios; `on_record(record_id, kind, status)` is called after
each upload commits, for every record stored or recognised as a duplicate (the scenario runner's
ground truth: platform.stored/duplicate).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.settings import DomainSettings
from domain.times import utc_iso
from platform_client.signing import HEADER_REPLY_SIGNATURE, reply_signature
from platform_server import schema as t
from platform_server.archives import register_archives
from platform_server.auth import authenticate, not_signed, read_proof
from platform_server.chain_check import chain_links, report_json, verify_unit_chain
from platform_server.changes import changes_after, latest_seq
from platform_server.errors import ApiError, Invalid, invalid_body
from platform_server.faults import FaultMiddleware, FaultSwitch
from platform_server.fields import parse_json
from platform_server.floors import register_operators, register_stations
from platform_server.guard import Guard
from platform_server.inspections import post_inspection
from platform_server.key_seal import SecretProblem
from platform_server.openapi import openapi_document
from platform_server.oversight import progress, trace
from platform_server.parties import Party, find_party
from platform_server.photos import MAX_PHOTO_BYTES, sniffed_type, store_photo
from platform_server.records import check_record, read_batch, store_batch
from platform_server.regulator import act
from platform_server.store import PlatformStore
from platform_server.transfers import accept_transfer, pending_transfers, request_transfer

__all__ = ["OnRecord", "PlatformApp"]

OnRecord = Callable[[str, str, str], None]  # (record_id, kind, "stored" | "duplicate")
UNIT, AGENCY, REGULATOR = ("unit",), ("agency",), ("regulator",)
ANY = ("unit", "agency", "regulator")
log = logging.getLogger(__name__)


@frozen
class Call:
    """One authenticated request."""

    request: Request
    party: Party
    body: bytes

    def json(self) -> Any:
        return parse_json(self.body)


Handler = Callable[[Call], Awaitable[Response]]


def _target(request: Request) -> str:
    """The request target as it came on the wire: what the client signed."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query = request.scope.get("query_string") or b""
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


def _declared_length(request: Request, limit: int) -> int:
    """The body's length as its headers declare it (none: no body), from the headers alone: a 411
    for a body sent without a length (chunked), a 413 beyond `limit`."""
    declared = request.headers.get("content-length", "")
    # (None at all means no body: one HTTP/2 sends anyway is more than declared, see _read_body)
    if "transfer-encoding" in request.headers:
        raise ApiError(411, "request.length_required", "a body must be sent with its Content-Length")
    size = int(declared) if declared.isdigit() else 0
    if size > limit:
        raise ApiError(413, "request.too_large", f"bodies are limited to {limit} bytes")
    return size


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise Invalid(name, "must be an integer") from None
    if not low <= value <= high:
        raise Invalid(name, f"must be between {low} and {high}")
    return value


class PlatformApp:
    """The platform. `faults.set(mode, seconds)` for outages; `store` is its database."""

    def __init__(
        self,
        store: PlatformStore,
        *,
        settings: DomainSettings | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        clock: Callable[[], float] = time.time,
        on_record: OnRecord | None = None,
        replay_window_s: int = 300,
        max_body_bytes: int = 16 * 1024 * 1024,
        guard: Guard | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or DomainSettings()
        self.today = today
        self.clock = clock
        self.on_record = on_record
        self.replay_window_s = replay_window_s
        self.max_body_bytes = max_body_bytes
        self.faults = FaultSwitch()
        self.guard = guard or Guard()
        self._told_seal_problem = False
        routes = [
            Route("/openapi.json", self._openapi, methods=["GET"]),
            self._route("/v1/me", "GET", ANY, self._me),
            self._route("/v1/records", "POST", UNIT, self._records),
            self._route("/v1/archives", "POST", UNIT, self._archives),
            self._route("/v1/photos/{sha256}", "PUT", UNIT, self._put_photo),
            self._route("/v1/photos/{sha256}", "GET", ANY, self._get_photo),
            self._route("/v1/stations", "POST", UNIT, self._stations),
            self._route("/v1/operators", "POST", UNIT, self._operators),
            self._route("/v1/transfers", "POST", ("unit", "regulator"), self._transfers),
            self._route("/v1/transfers", "GET", UNIT, self._pending_transfers),
            self._route("/v1/transfers/{transfer_id}/accept", "POST", UNIT, self._accept_transfer),
            self._route("/v1/registry/changes", "GET", ANY, self._changes),
            self._route("/v1/chain", "GET", UNIT, self._chain),
            self._route("/v1/inspections", "POST", AGENCY, self._inspections),
            self._route("/v1/regulator/actions", "POST", REGULATOR, self._actions),
            self._route("/v1/regulator/progress", "GET", REGULATOR, self._progress),
            self._route("/v1/regulator/trace/{cylinder}", "GET", REGULATOR, self._trace),
            self._route("/v1/regulator/verify-chain/{unit}", "GET", REGULATOR, self._verify_chain),
        ]
        handlers = {
            ApiError: self._api_error,
            HTTPException: self._http_error,
            Exception: self._internal_error,
        }
        self.starlette = Starlette(routes=routes, exception_handlers=handlers)
        self._asgi = FaultMiddleware(self.starlette, self.faults)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)

    # -- plumbing ------------------------------------------------------------------------------

    def now_iso(self) -> str:
        return utc_iso(dt.datetime.fromtimestamp(self.clock(), dt.UTC))

    def _route(self, path: str, method: str, kinds: Sequence[str], handler: Handler) -> Route:
        limit = MAX_PHOTO_BYTES if path.startswith("/v1/photos") else self.max_body_bytes
        # Every POST carries JSON but the acceptance of a transfer, which has no body.
        json_body = method == "POST" and not path.endswith("/accept")

        async def endpoint(request: Request) -> Response:
            now = self.clock()
            address = request.client.host if request.client is not None else "unknown"
            self.guard.check_address(address, now)
            try:
                party, key, nonce, body = await self._authenticated(request, limit, now)
            except ApiError as exc:
                if exc.status == 401:
                    self.guard.failed(address, exc.code, now, f"{method} {path}")
                # Unsigned, as is every answer given before the signature checked out: the platform
                # does not know yet that the request came from the party it names (a signed 413 or
                # 415 would be one an attacker on the path could have had it sign for the floor).
                raise
            try:
                response = await self._answer(request, party, body, json_body, kinds, handler)
            except ApiError as exc:
                response = self._error_response(exc)
            response.headers[HEADER_REPLY_SIGNATURE] = reply_signature(
                key, response.status_code, request.method, _target(request), nonce, bytes(response.body)
            )
            return response

        return Route(path, endpoint, methods=[method], name=f"{method} {path}")

    async def _authenticated(self, request: Request, limit: int, now: float) -> tuple[Party, str, str, bytes]:
        """The party that signed this request, its key, the request's nonce and its body; or an
        unsigned error. First what the headers alone decide, the same whether the party named
        exists or not: the signing headers (401), a body of undeclared length (411) or over the
        limit (413). Then the party, before a byte of the body is read (a stranger must not make
        the platform buffer 16 MiB; an unknown party is answered as a bad signature, though sooner),
        the body as declared, and the signature and nonce (401)."""
        proof = read_proof(request.headers, now, self.replay_window_s)
        declared = _declared_length(request, limit)
        party = await self.store.read(lambda conn: find_party(conn, proof.party))
        if party is None:
            raise not_signed()
        try:
            key = self.store.seal.open(party.id, party.sealed_key)
        except SecretProblem as exc:  # (sealed under another secret: rotated while this one runs)
            if not self._told_seal_problem:  # (once, not for every request until the restart)
                self._told_seal_problem = True
                log.error("platform: %s: restart it with the secret in use", exc)  # noqa: TRY400 - no traceback
            raise ApiError(
                503, "platform.unavailable", "the platform cannot check requests now: retry later"
            ) from None
        body = await self._read_body(request, declared)
        target, method = _target(request), request.method
        signer = await self.store.write(
            lambda conn: authenticate(conn, proof, key, method, target, body, now, self.replay_window_s)
        )
        return signer, key, proof.nonce, body

    async def _answer(
        self,
        request: Request,
        party: Party,
        body: bytes,
        json_body: bool,
        kinds: Sequence[str],
        handler: Handler,
    ) -> Response:
        """For an authenticated party (every answer signed): the body's type, the caller's kind,
        then the work."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if json_body and media_type != "application/json":
            raise ApiError(415, "request.bad_type", "the body must be Content-Type: application/json")
        if party.kind not in kinds:
            what = f"{request.method} {request.url.path}"
            raise ApiError(403, "auth.forbidden", f"a {party.kind} may not call {what}")
        try:
            return await handler(Call(request, party, body))
        except Invalid as exc:
            raise invalid_body(exc) from None

    async def _read_body(self, request: Request, declared: int) -> bytes:
        """The body, `declared` bytes at most. One longer than it declared cannot be authenticated
        and is answered as a bad signature (HTTP/1.1 cannot send one; HTTP/2 could)."""
        chunks, size = [], 0
        self.guard.start_unverified()
        try:
            # Closed when left early, not when collected: a body longer than declared (HTTP/2)
            # leaves its stream unread, and Starlette's generator would be left open.
            async with aclosing(request.stream()) as stream:
                async for chunk in stream:
                    size += len(chunk)
                    self.guard.buffer(len(chunk))
                    if size > declared:
                        raise not_signed()
                    chunks.append(chunk)
        finally:
            self.guard.end_unverified(size)
        return b"".join(chunks)

    async def _api_error(self, _request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return self._error_response(exc)

    @staticmethod
    def _error_response(exc: ApiError) -> Response:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def _http_error(self, _request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: "request.not_found", 405: "request.method_not_allowed"}
        code = codes.get(exc.status_code, "request.error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    async def _internal_error(self, _request: Request, _exc: Exception) -> Response:
        # Starlette logs the exception and re-raises it to hypercorn after this answer.
        detail = "the platform failed to handle the request; nothing of it was stored: retry later"
        return JSONResponse({"error": "platform.internal", "detail": detail}, status_code=500)

    async def _openapi(self, _request: Request) -> Response:
        return JSONResponse(openapi_document())

    # -- every party ---------------------------------------------------------------------------

    async def _me(self, call: Call) -> Response:
        p = call.party
        return JSONResponse({"party": p.id, "kind": p.kind, "name": p.name, "server_time": self.now_iso()})

    async def _changes(self, call: Call) -> Response:
        request = call.request
        cursor = _int_param(request, "cursor", 0, 0, 2**62)
        limit = _int_param(request, "limit", 500, 1, 5000)
        unit = request.query_params.get("unit") or None
        if call.party.kind == "unit":
            if unit not in (None, call.party.id):
                raise ApiError(403, "auth.forbidden", "a unit reads its own changes only")
            unit = call.party.id

        def read(conn: Connection) -> dict[str, Any]:
            changes, next_cursor, more = changes_after(conn, cursor, limit, unit)
            return {"changes": changes, "cursor": next_cursor, "more": more, "latest": latest_seq(conn, unit)}

        return JSONResponse(await self.store.read(read))

    async def _get_photo(self, call: Call) -> Response:
        digest = call.request.path_params["sha256"]

        def read(conn: Connection) -> Any:
            q = select(t.photo.c.content).where(t.photo.c.sha256 == digest)
            return conn.execute(q).first()

        row = await self.store.read(read)
        if row is None:
            raise ApiError(404, "photo.unknown", f"no photo {digest}")
        # The type its bytes show (photos stored before the check kept the uploader's claim).
        media_type = sniffed_type(row[0]) or "application/octet-stream"
        headers = {"Cache-Control": "max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
        return Response(row[0], media_type=media_type, headers=headers)

    # -- filling units -------------------------------------------------------------------------

    async def _records(self, call: Call) -> Response:
        batch = read_batch(call.json())
        unit, received = call.party.id, self.now_iso()

        def write(conn: Connection) -> list[Any]:
            return store_batch(conn, unit, [check_record(rid, f) for rid, f in batch], received)

        results = await self.store.write(write)
        if self.on_record is not None:
            kinds = {rid: f.obj.get("kind") for rid, f in batch}
            for r in results:
                if r.status in ("stored", "duplicate"):
                    self.on_record(r.record_id, str(kinds[r.record_id]), r.status)
        return JSONResponse({"results": [r.to_json() for r in results]})

    async def _archives(self, call: Call) -> Response:
        body, unit, today, at = call.json(), call.party.id, self.today(), self.now_iso()
        results = await self.store.write(
            lambda conn: register_archives(conn, unit, body, today, self.settings, at)
        )
        return JSONResponse({"results": results})

    async def _put_photo(self, call: Call) -> Response:
        digest = call.request.path_params["sha256"]
        content_type = call.request.headers.get("content-type", "")
        party, at = call.party.id, self.now_iso()
        new = await self.store.write(
            lambda conn: store_photo(conn, party, digest, call.body, content_type, at)
        )
        return JSONResponse(
            {"sha256": digest, "status": "stored" if new else "duplicate"}, status_code=201 if new else 200
        )

    async def _stations(self, call: Call) -> Response:
        body, unit, at = call.json(), call.party.id, self.now_iso()
        return JSONResponse(
            {"results": await self.store.write(lambda conn: register_stations(conn, unit, body, at))}
        )

    async def _operators(self, call: Call) -> Response:
        body, unit, at = call.json(), call.party.id, self.now_iso()
        return JSONResponse(
            {"results": await self.store.write(lambda conn: register_operators(conn, unit, body, at))}
        )

    async def _transfers(self, call: Call) -> Response:
        body, party, at = call.json(), call.party, self.now_iso()
        result = await self.store.write(lambda conn: request_transfer(conn, party, body, at))
        return JSONResponse(result, status_code=202 if result["status"] == "pending" else 200)

    async def _pending_transfers(self, call: Call) -> Response:
        unit = call.party.id
        return JSONResponse({"pending": await self.store.read(lambda conn: pending_transfers(conn, unit))})

    async def _accept_transfer(self, call: Call) -> Response:
        party, at = call.party, self.now_iso()
        text = call.request.path_params["transfer_id"]
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise ApiError(404, "transfer.unknown", "no such transfer request")
        request_id = int(text)
        return JSONResponse(await self.store.write(lambda conn: accept_transfer(conn, party, request_id, at)))

    # -- inspection agencies -------------------------------------------------------------------

    async def _inspections(self, call: Call) -> Response:
        body, party, today, at = call.json(), call.party, self.today(), self.now_iso()
        result = await self.store.write(
            lambda conn: post_inspection(conn, party, body, today, self.settings, at)
        )
        return JSONResponse(result)

    # -- the regulator -------------------------------------------------------------------------

    async def _actions(self, call: Call) -> Response:
        body, party, at = call.json(), call.party, self.now_iso()
        return JSONResponse(await self.store.write(lambda conn: act(conn, party, body, at)))

    async def _progress(self, call: Call) -> Response:
        unit = call.request.query_params.get("unit") or None
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        return JSONResponse(await self.store.read(lambda conn: progress(conn, unit, now)))

    async def _trace(self, call: Call) -> Response:
        code = call.request.path_params["cylinder"]
        return JSONResponse(await self.store.read(lambda conn: trace(conn, code)))

    async def _chain(self, call: Call) -> Response:
        """The calling unit's fills as the platform holds them: (seq, hash), a page at a time."""
        after = _int_param(call.request, "after", 0, 0, 2**62)
        limit = _int_param(call.request, "limit", 5000, 1, 5000)
        unit = call.party.id

        def read(conn: Connection) -> dict[str, Any]:
            links = chain_links(conn, unit, after, limit + 1)
            return {"links": [list(link) for link in links[:limit]], "more": len(links) > limit}

        return JSONResponse(await self.store.read(read))

    async def _verify_chain(self, call: Call) -> Response:
        unit = call.request.path_params["unit"]

        def read(conn: Connection) -> dict[str, Any]:
            if conn.execute(select(t.unit.c.code).where(t.unit.c.code == unit)).first() is None:
                raise ApiError(404, "unit.unknown", f"no unit {unit!r}", field="unit")
            return report_json(unit, verify_unit_chain(conn, unit))

        return JSONResponse(await self.store.read(read))
