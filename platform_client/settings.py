"""What the platform sync needs to know: where the platform is, who we are, how often, how much."""

from __future__ import annotations

from attrs import field, frozen

__all__ = ["SyncSettings"]


@frozen
class SyncSettings:
    url: str  # the platform's base URL, e.g. https://platform.example.cn/api
    unit_code: str  # our party id on the platform (单位代码)
    key: str = field(repr=False)  # the unit's signing key: never printed
    sync_interval_s: float = 30.0  # registry pulls; also the longest an idle outbox waits
    # Records per upload (the platform takes at most 1000). Measured (docs/benchmarks.md, platform
    # drain): 500 drained 1.19x as fast as 200 and 1000 only 1.07x as fast as 500; a smaller body to
    # push through a slow link before the timeout (a record is 0.2-1.1 KB of JSON: 250-540 KB for
    # 500). Timeouts halve it anyway.
    batch_size: int = 500
    verify: bool | str = True  # TLS: verify with the public CAs (True) or this CA bundle (a path)
    timeout_s: float = 15.0  # per request: connect, each read, each write
    backoff_first_s: float = 1.0
    backoff_max_s: float = 300.0  # a platform down for days is asked every 5 minutes at most
    registry_page: int = 500  # changes per pull (the platform gives at most 5000)
