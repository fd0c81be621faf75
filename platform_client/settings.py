"""What the platform sync runs with: the `[platform]` table as the floor read it (`PlatformConfig`:
where the platform is, how often, how much, how TLS is checked), who we are, and the client's own
timings, which are not in the file. The file's settings are held, not copied: one definition each."""

from __future__ import annotations

from attrs import field, frozen

from domain.backoff import Backoff, Jitter
from supervisor.config import PlatformConfig

__all__ = ["SyncSettings"]


@frozen
class SyncSettings:
    platform: PlatformConfig
    unit_code: str  # our party id on the platform (单位代码)
    key: str = field(repr=False)  # the unit's signing key: never printed
    timeout_s: float = 15.0  # per request: connect, each read, each write
    # After a failed upload or pull; a platform down for days is asked every 5 minutes at most.
    backoff: Backoff = field(factory=lambda: Backoff(initial_s=1.0, max_s=300.0, jitter=Jitter.EQUAL))
    registry_page: int = 500  # changes per pull (the platform gives at most 5000)

    @property
    def verify(self) -> bool | str:
        """TLS: verify with the public CAs (True), with the plant's CA bundle (its path), or not."""
        return self.platform.ca_file or self.platform.verify_tls
