"""Serving the platform with hypercorn's trio worker, on a port of its own or any free one.

`serve_platform(app, host, port, task_status=...)` reports the URL it listens on once bound (port
0: a free port, as tests and the embedded scenario platform use). `running_platform` is the same
as an async context manager.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from platform_server.app import PlatformApp

__all__ = ["hypercorn_config", "running_platform", "serve_platform"]


def hypercorn_config(host: str, port: int, certfile: str | None = None, keyfile: str | None = None) -> Config:
    """Hypercorn's settings; with a certificate and key it serves HTTPS (tests of the floor's TLS
    verification; in production a TLS-terminating proxy usually sits in front)."""
    config = Config()
    host = host.strip("[]")
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"  # not "Running on ..." into a scenario's or a test's output
    config.graceful_timeout = 2.0
    config.certfile, config.keyfile = certfile, keyfile
    return config


async def serve_platform(
    app: PlatformApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled or `shutdown_trigger` returns; `task_status.started(url)` once bound."""
    config = hypercorn_config(host, port, certfile, keyfile)
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, app, config, shutdown_trigger=shutdown_trigger))  # type: ignore[arg-type]
        task_status.started(binds[0])


@asynccontextmanager
async def running_platform(
    app: PlatformApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> AsyncIterator[str]:
    """The platform served while the block runs; yields its base URL (`http://127.0.0.1:PORT`, or
    https with a certificate)."""
    async with trio.open_nursery() as nursery:
        serve_tls = partial(serve_platform, certfile=certfile, keyfile=keyfile)
        url = await nursery.start(serve_tls, app, host, port)
        try:
            yield url
        finally:
            nursery.cancel_scope.cancel()
