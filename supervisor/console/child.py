"""The console process: `python -m supervisor.console.child`, started by the floor
(`bridge.ConsoleProcess`) with the pipe of `pipe.py` on its stdin and stdout.

It reads its settings, listens, says on which port, then serves consoles until the floor closes the
pipe (the floor stopped, or died: this process never outlives it). Its logs go to stderr, which it
shares with the floor.
"""

from __future__ import annotations

import json
import ssl
import sys
from typing import Any

import attrs
import trio

from supervisor.console.admission import Limits
from supervisor.console.pipe_access import PipeAccess
from supervisor.console.server import ConsoleServer
from supervisor.runtime.pipe import SERVICE_NICENESS, ended_by, run_service_process, stdio_pipe

__all__ = ["ChildSettings", "main"]


@attrs.frozen
class ChildSettings:
    host: str
    port: int
    tls_cert: str = ""
    tls_key: str = ""
    limits: Limits = attrs.field(factory=Limits)
    allowed_origins: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self, recurse=True))

    @classmethod
    def from_json(cls, text: str) -> ChildSettings:
        raw: dict[str, Any] = json.loads(text)
        return cls(**{**raw, "limits": Limits(**raw.get("limits", {})),
                      "allowed_origins": tuple(raw.get("allowed_origins", ()))})  # fmt: skip


def _tls(settings: ChildSettings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


async def _serve() -> None:
    reader, writer = stdio_pipe()
    settings = ChildSettings.from_json(await reader.line())
    access = PipeAccess(reader, writer)
    origins = frozenset(settings.allowed_origins)
    server = ConsoleServer(access, host=settings.host, port=settings.port, ssl_context=_tls(settings),
                           limits=settings.limits, allowed_origins=origins)  # fmt: skip
    async with trio.open_nursery() as nursery:
        try:
            port = await nursery.start(server.run)
        except BaseException as exc:
            if ended_by(exc, OSError, ssl.SSLError):  # (its port, its TLS files: the floor says so)
                await writer.send(json.dumps({"failed": str(_first(exc))}) + "\n")
            raise
        await writer.send(json.dumps({"ready": port}) + "\n")


def main() -> int:
    # Its port or its TLS files: said on the pipe first (the floor reports it), then exit 2.
    return run_service_process(_serve, "console process", failures=(OSError, ssl.SSLError),
                               niceness=SERVICE_NICENESS)  # fmt: skip


def _first(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


if __name__ == "__main__":
    sys.exit(main())
