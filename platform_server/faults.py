"""Outages on demand, for scenarios and tests (docs/scenarios.md, the `platform` step).

`FaultSwitch.set(mode, seconds=None)`; after `seconds` the platform is `up` again. Modes:
- `up`: normal service;
- `down`: no request reaches the platform; the connection is closed without a complete reply
  (what a client sees of a platform gone away mid-connection; a refused connection is not
  possible from inside the server);
- `error_5xx`: every request answered 500, 502, 503 in turn (503 with `Retry-After: 1`), nothing
  stored;
- `throttle`: 429 with `Retry-After: 2`, nothing stored;
- `drop_response`: the request is carried out (a batch is stored) but the reply is lost: the
  connection closes without a complete reply;
- `slow`: replies come `slow_s` seconds late (the request is carried out first).
A reply is "lost" by sending the status line and headers with a Content-Length, then closing
before the body: every HTTP client reports that as an error (httpx: `RemoteProtocolError`), never
as a response. `/openapi.json` is never faulted, nor are requests of the parties in
`FaultSwitch.exempt` (the agency and regulator of a scenario: an outage is between the floor and
the platform).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["MODES", "FaultMiddleware", "FaultSwitch"]

MODES = ("up", "down", "error_5xx", "throttle", "drop_response", "slow")
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class FaultSwitch:
    """The platform's mode as the floor sees it; set from the scenario runner or a test."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, slow_s: float = 2.0) -> None:
        self._clock = clock
        self._mode = "up"
        self._until: float | None = None
        self.slow_s = slow_s
        self._errors = itertools.cycle((500, 502, 503))
        self.exempt: set[str] = set()  # party ids never faulted

    def set(self, mode: str, seconds: float | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"platform mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._mode = mode
        self._until = None if seconds is None or mode == "up" else self._clock() + seconds

    @property
    def mode(self) -> str:
        if self._until is not None and self._clock() >= self._until:
            self._mode, self._until = "up", None
        return self._mode

    def next_error(self) -> int:
        return next(self._errors)


def _party(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-fillfloor-party":
            return value.decode("latin-1")
    return ""


async def _json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": data})


async def _cut(send: Send) -> None:
    """Headers promising a body, then nothing: the server closes the connection."""
    head = [(b"content-type", b"application/json"), (b"content-length", b"64")]
    await send({"type": "http.response.start", "status": 502, "headers": head})


class FaultMiddleware:
    """ASGI middleware applying the switch's mode in front of the platform."""

    def __init__(self, app: Callable[..., Any], switch: FaultSwitch) -> None:
        self.app = app
        self.switch = switch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mode = self.switch.mode if scope["type"] == "http" else "up"
        if mode != "up" and (scope.get("path") == "/openapi.json" or _party(scope) in self.switch.exempt):
            mode = "up"
        if mode == "down":
            await _cut(send)
        elif mode == "error_5xx":
            status = self.switch.next_error()
            retry = [(b"retry-after", b"1")] if status == 503 else []
            await _json(send, status, {"error": "platform.error", "detail": f"simulated {status}"}, retry)
        elif mode == "throttle":
            await _json(
                send, 429, {"error": "platform.throttled", "detail": "simulated"}, [(b"retry-after", b"2")]
            )
        elif mode in ("drop_response", "slow"):
            held: list[dict[str, Any]] = []

            async def hold(message: dict[str, Any]) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            if mode == "drop_response":
                await _cut(send)
                return
            await trio.sleep(self.switch.slow_s)
            for message in held:
                await send(message)
        else:
            await self.app(scope, receive, send)
