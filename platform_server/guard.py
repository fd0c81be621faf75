"""What a stranger can cost the platform before it knows who is calling.

A request's body is read only after its headers, timestamp and party check out, but the signature
needs the body, so bodies not yet verified are still read. The guard bounds them: at most
`max_unverified` such reads at once and `max_unverified_bytes` buffered over all of them (a 503
`request.busy`, retry later, beyond either). Failed authentications are logged with the client's
address and counted per address: more than `max_failures` within `failure_window_s` and that
address is answered 429 `auth.throttled` until the window has passed.
"""

from __future__ import annotations

import logging
from collections import deque

from platform_server.errors import ApiError

__all__ = ["Guard"]

log = logging.getLogger(__name__)


def busy() -> ApiError:
    detail = "the platform is reading too many unverified requests: retry later"
    return ApiError(503, "request.busy", detail, headers={"Retry-After": "5"})


class Guard:
    """One platform's counters (its own instance: no state shared between platforms)."""

    def __init__(
        self,
        *,
        max_unverified: int = 32,
        max_unverified_bytes: int = 48 * 1024 * 1024,
        max_failures: int = 20,
        failure_window_s: float = 60.0,
    ) -> None:
        self.max_unverified = max_unverified
        self.max_unverified_bytes = max_unverified_bytes
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s
        self.unverified = 0
        self.unverified_bytes = 0
        self._failures: dict[str, deque[float]] = {}

    def check_address(self, address: str, now: float) -> None:
        """A 429 while this address has failed too often lately."""
        times = self._recent(address, now)
        if len(times) >= self.max_failures:
            retry = max(1, int(times[0] + self.failure_window_s - now) + 1)
            raise ApiError(
                429,
                "auth.throttled",
                f"too many failed requests from this address: retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )

    def failed(self, address: str, code: str, now: float, target: str) -> None:
        log.warning("platform: refused %s from %s (%s)", target[:200], address, code)
        if len(self._failures) > 10_000:  # forget the addresses quiet for a window
            for quiet in [a for a, t in self._failures.items() if t[-1] <= now - self.failure_window_s]:
                del self._failures[quiet]
        self._failures.setdefault(address, deque()).append(now)

    def start_unverified(self) -> None:
        if self.unverified >= self.max_unverified:
            raise busy()
        self.unverified += 1

    def end_unverified(self, size: int) -> None:
        self.unverified -= 1
        self.unverified_bytes -= size

    def buffer(self, size: int) -> None:
        """`size` more unverified bytes held; a 503 beyond the budget (the caller ends the read)."""
        self.unverified_bytes += size
        if self.unverified_bytes > self.max_unverified_bytes:
            raise busy()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.failure_window_s:
            times.popleft()
        if not times:
            del self._failures[address]
        return times
