"""A scanner actor running for a test, and the scans it delivers, waited for within a bound."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import trio

from actors.config import ScannerConfig
from actors.scanner import ScannerActor
from domain.messages import Scanned, StationInput
from supervisor.runtime.mailbox import Mailbox

WAIT_S = 10.0  # a bound for anything to arrive: generous, never reached when things work


async def receive(inbox: Mailbox[StationInput]) -> StationInput:
    with trio.fail_after(WAIT_S):
        return await inbox.receive()


async def receive_scans(inbox: Mailbox[StationInput], n: int) -> list[Scanned]:
    out: list[Scanned] = []
    for _ in range(n):
        message = await receive(inbox)
        assert isinstance(message, Scanned), message
        out.append(message)
    return out


@contextlib.asynccontextmanager
async def running(actor: ScannerActor) -> AsyncIterator[None]:
    async with trio.open_nursery() as nursery:
        with trio.fail_after(WAIT_S):
            await nursery.start(actor.run)
        yield
        nursery.cancel_scope.cancel()


def serial_actor(
    path: str | Path,
    inbox: Mailbox[StationInput],
    *,
    max_frame: int = 512,
    send_timeout_s: float = 0.5,
    link_retry_s: float = 0.5,
) -> ScannerActor:
    config = ScannerConfig(kind="serial", serial_port=str(path), max_frame=max_frame)
    return ScannerActor(config, "S1", inbox, send_timeout_s=send_timeout_s, link_retry_s=link_retry_s)
