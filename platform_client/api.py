"""The platform's API as the floor uses it: upload records, pull registry changes.

Every failure is one of two kinds, so that the sync decides by kind and never by guesswork:
- `Unavailable`: the platform could not answer now (unreachable, timeout, a lost reply, 408, 429,
  5xx, a reply we cannot read). Nothing is known about what it did: try the same again later
  (uploads are idempotent by record id, so a batch the platform stored before its reply was lost
  comes back as `duplicate`).
- `Refused`: the platform answered that the request itself is wrong (401/403 credentials, 413 too
  large, 422 naming a field). Retrying it unchanged will not help; the sync shrinks the batch,
  dead-letters the record named, or waits for an operator to fix the key (an alarm, not a loop).
A reply is read defensively: a result for a record we did not send, or one without a known status,
is ignored (the record stays pending and is sent again). It is read in pieces up to `MAX_REPLY_BYTES`
(a larger one is not the platform's: a 300 MB reply once grew the floor to 2.7 GB) and the whole
request has one deadline (a reply dripping a byte a second never times out a per-read timeout).
A reply is acted on only if the platform signed it for this request (`SigningAuth.
reply_is_authentic`): an unsigned or forged 2xx or 4xx is `Unavailable("forged_reply")`, so nothing
of it is stored, no record is marked sent and none is dead-lettered. The answers given before the
platform has checked the signature are never signed: a 401 (it did not know who asked), a 413 (the
body is over its limit, or a proxy's) and those that only mean "not now" (408, 429, 5xx). They make
the sync wait, raise the credentials alarm or send smaller batches, and change nothing else.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import trio
from attrs import frozen

from platform_client.auth import SigningAuth
from platform_client.backoff import parse_retry_after
from platform_client.settings import SyncSettings
from platform_client.signing import HEADER_REPLY_SIGNATURE
from supervisor.storage.outbox import OutboxItem

__all__ = [
    "MAX_REPLY_BYTES",
    "ChangesPage",
    "PlatformApi",
    "RecordOutcome",
    "Refused",
    "Unavailable",
    "open_client",
    "tls_context",
]

_RETRYABLE_STATUS = frozenset({408, 425, 429})
# The largest reply the platform sends is a page of 5000 registry changes (about 2 MB).
MAX_REPLY_BYTES = 8 * 1024 * 1024
_ITEM_FIELD = re.compile(r"records\[(\d+)\]")


class Unavailable(Exception):
    """No answer we can use; try again later."""

    def __init__(self, status: str, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status  # unreachable | timeout | lost_reply | bad_reply | http_503 ...
        self.detail = detail
        self.retry_after_s = retry_after_s


class Refused(Exception):
    """The platform says the request is wrong (4xx other than 408/425/429)."""

    def __init__(self, http_status: int, code: str, detail: str, field: str | None) -> None:
        super().__init__(f"{http_status} {code}: {detail}")
        self.http_status = http_status
        self.code = code  # the platform's error code: auth.bad_signature, request.invalid, ...
        self.detail = detail
        self.field = field

    @property
    def item(self) -> int | None:
        """The index of the batch item the platform names (`records[3].record_id`), if any."""
        m = _ITEM_FIELD.match(self.field or "")
        return int(m.group(1)) if m else None


@frozen
class RecordOutcome:
    record_id: str
    status: str  # stored | duplicate | rejected
    reason: str = ""  # for rejected: record.bad_field, fill.hash_mismatch, ...
    field: str = ""
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.status in ("stored", "duplicate")

    def dead_letter_text(self) -> str:
        """What the dead-letter list shows: the reason code first, then where and why."""
        return ": ".join(part for part in (self.reason or "rejected", self.field, self.detail) if part)


@frozen
class ChangesPage:
    changes: tuple[Mapping[str, Any], ...]
    cursor: int
    more: bool
    latest: int


def tls_context(settings: SyncSettings) -> ssl.SSLContext | bool:
    """How the platform's certificate is checked: the public CAs (httpx's default, certifi's
    bundle), a plant's own CA bundle, or (`verify_tls = false`, for a lab only) not at all. A CA
    file that cannot be read raises `OSError`/`ssl.SSLError` here, at start-up, not at the first
    upload."""
    if isinstance(settings.verify, str):
        return ssl.create_default_context(cafile=settings.verify)
    return settings.verify


def open_client(settings: SyncSettings, tls: ssl.SSLContext | bool) -> httpx.AsyncClient:
    """An httpx client that signs every request as the unit and verifies TLS with `tls`."""
    timeout = httpx.Timeout(settings.timeout_s)
    return httpx.AsyncClient(
        base_url=settings.platform.url.rstrip("/"),
        auth=SigningAuth(settings.unit_code, settings.key),
        verify=tls,
        timeout=timeout,
        headers={"User-Agent": "fillfloor-platform-sync/1"},
    )


def _why(exc: BaseException) -> str:
    """The most telling message of an httpx error (it often wraps the one that says why, such as
    `CERTIFICATE_VERIFY_FAILED`, and has none of its own)."""
    seen: BaseException | None = exc
    messages: list[str] = []
    while seen is not None and len(messages) < 4:
        if str(seen):
            messages.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    return messages[-1] if messages else type(exc).__name__


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _unsigned_allowed(status: int) -> bool:
    """The replies the platform does not sign: they make the sync wait, alarm or send smaller
    batches, and change nothing else. A 413 comes before the platform has checked the request's
    signature, and may come from a TLS proxy in front of it (nginx's `client_max_body_size`): a
    forged one can only make the batches smaller."""
    return status in (401, 413) or status in _RETRYABLE_STATUS or status >= 500


class _TooBig(Exception):
    pass


class PlatformApi:
    def __init__(self, client: httpx.AsyncClient, deadline_s: float = 60.0) -> None:
        if not isinstance(client.auth, SigningAuth):
            raise TypeError("the platform API needs a client that signs its requests (open_client)")
        self.client = client
        self.signer = client.auth
        self.deadline_s = deadline_s  # for a whole request, its reply read to the end included

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        with trio.move_on_after(self.deadline_s):
            return await self._exchange(method, path, **kwargs)
        raise Unavailable("timeout", f"no whole reply within {self.deadline_s:g} s")

    async def _read(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """The reply and its body, read in pieces and never beyond `MAX_REPLY_BYTES`."""
        async with self.client.stream(method, path, **kwargs) as response:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_REPLY_BYTES:
                raise _TooBig
            body = bytearray()
            # Stopped by a cancel rather than a break: the cancel is raised inside httpx's innermost
            # read and ends every one of its nested generators (a break leaves them to the collector).
            with trio.CancelScope() as reading:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_REPLY_BYTES:
                        reading.cancel()
            if reading.cancelled_caught:
                raise _TooBig
            return response, bytes(body)

    async def _exchange(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response, content = await self._read(method, path, **kwargs)
        except _TooBig:
            raise Unavailable("bad_reply", f"a reply over {MAX_REPLY_BYTES} bytes") from None
        except httpx.TimeoutException as exc:
            raise Unavailable("timeout", _why(exc)) from None
        except httpx.ConnectError as exc:  # also a TLS certificate that does not verify
            raise Unavailable("unreachable", _why(exc)) from None
        except httpx.TransportError as exc:  # the connection broke mid-reply: the request may have run
            raise Unavailable("lost_reply", _why(exc)) from None
        status = response.status_code
        if not _unsigned_allowed(status) and not self.signer.reply_is_authentic(response, content):
            how = (
                "signed for another request or altered"
                if HEADER_REPLY_SIGNATURE in response.headers
                else "unsigned"
            )
            raise Unavailable(
                "forged_reply", f"a {status} reply {how}: not the platform's answer to this request"
            )
        if status == 200 or status == 201:
            try:
                return json.loads(content)
            except (ValueError, RecursionError):
                raise Unavailable("bad_reply", f"{status} reply is not JSON") from None
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            body = {}
        body = body if isinstance(body, dict) else {}
        code, detail = _text(body.get("error")) or f"http_{status}", _text(body.get("detail"))
        if status in _RETRYABLE_STATUS or status >= 500 or status < 400:
            retry = parse_retry_after(response.headers.get("retry-after"))
            raise Unavailable(f"http_{status}", f"{code} {detail}".strip(), retry)
        field = body.get("field")
        raise Refused(status, code, detail, field if isinstance(field, str) else None)

    async def upload(self, items: Sequence[OutboxItem]) -> dict[str, RecordOutcome]:
        """POST /v1/records; the platform's answer per record id (records it did not answer are
        missing from the result: they stay pending)."""
        body = {"records": [{"record_id": i.record_id, "kind": i.kind, "payload": i.payload} for i in items]}
        reply = await self._call("POST", "/v1/records", json=body)
        results = reply.get("results") if isinstance(reply, dict) else None
        if not isinstance(results, list):
            raise Unavailable("bad_reply", "the upload reply has no results list")
        sent = {i.record_id for i in items}
        out: dict[str, RecordOutcome] = {}
        for r in results:
            if not isinstance(r, dict):
                continue
            rid, status = _text(r.get("record_id")), _text(r.get("status"))
            if rid not in sent or status not in ("stored", "duplicate", "rejected"):
                continue
            out[rid] = RecordOutcome(
                rid, status, _text(r.get("reason")), _text(r.get("field")), _text(r.get("detail"))
            )
        return out

    async def chain(self, after: int, limit: int = 5000) -> tuple[list[tuple[int, str]], bool]:
        """GET /v1/chain: our fills as the platform holds them, (seq, hash) after `after`; more?"""
        reply = await self._call("GET", "/v1/chain", params={"after": after, "limit": limit})
        links, more = (reply.get("links"), reply.get("more")) if isinstance(reply, dict) else (None, None)
        if not isinstance(links, list) or not isinstance(more, bool):
            raise Unavailable("bad_reply", "the chain reply is malformed")
        out: list[tuple[int, str]] = []
        for link in links:
            if not (isinstance(link, list) and len(link) == 2 and isinstance(link[0], int)
                    and isinstance(link[1], str) and link[0] > after):  # fmt: skip
                raise Unavailable("bad_reply", "the chain reply is malformed")
            out.append((link[0], link[1]))
        return out, more

    async def changes(self, cursor: int, limit: int) -> ChangesPage:
        """GET /v1/registry/changes after `cursor`."""
        reply = await self._call("GET", "/v1/registry/changes", params={"cursor": cursor, "limit": limit})
        if not isinstance(reply, dict):
            raise Unavailable("bad_reply", "the changes reply is not an object")
        changes, next_cursor, more, latest = (
            reply.get("changes"), reply.get("cursor"), reply.get("more"), reply.get("latest")
        )  # fmt: skip
        if (
            not isinstance(changes, list)
            or not all(isinstance(c, dict) for c in changes)
            or not isinstance(next_cursor, int)
            or isinstance(next_cursor, bool)
            or next_cursor < cursor
            or not isinstance(more, bool)
            or not isinstance(latest, int)
            or next_cursor > latest  # (a cursor the platform never gave would skip changes)
        ):
            raise Unavailable("bad_reply", "the changes reply is malformed")
        return ChangesPage(tuple(changes), next_cursor, more, latest)
