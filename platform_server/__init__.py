"""The reference city platform (监管平台): the API the floors' platform client speaks. The request
signature is the client's (`platform_client.signing`, `platform_client.auth`): the platform verifies
what the floors sign. Layout, one idea per module: `schema` (tables) and `store` (the database off
the loop); `parties` (keys) and `auth` (checking a request); `fields` and `errors` (bodies and error
answers); `records` (uploads, idempotent by record id); `archives`, `photos`, `floors` (stations,
operators), `transfers`, `inspections`, `regulator` (what each party changes) and `changes` (the log
the floors pull by cursor); `oversight` (progress, trace) and `chain_check` (fill chain re-
verification); `faults` (outages for scenarios); `openapi`; `app` (the ASGI app), `serve`
(hypercorn's trio worker) and `embedded` (a scenario's platform in-process). The API is documented
in docs/platform-api.md.
"""

from __future__ import annotations

from platform_server.app import OnRecord, PlatformApp
from platform_server.embedded import EmbeddedPlatform, embedded_platform
from platform_server.faults import MODES, FaultSwitch
from platform_server.serve import running_platform, serve_platform
from platform_server.store import PlatformStore, open_store

__all__ = [
    "MODES",
    "EmbeddedPlatform",
    "FaultSwitch",
    "OnRecord",
    "PlatformApp",
    "PlatformStore",
    "embedded_platform",
    "open_store",
    "running_platform",
    "serve_platform",
]
