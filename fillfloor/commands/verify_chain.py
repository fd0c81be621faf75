"""`fillfloor verify-chain`: walk the fill chain and the record chain (exit 1 naming each bad record)."""

from __future__ import annotations

import argparse

from sqlalchemy import select

from fillfloor.commands import add_db_options
from fillfloor.commands._db import database_for, floor_config
from supervisor.errors import BadInput
from supervisor.storage import Database
from supervisor.storage import schema as t
from supervisor.storage.verify import ChainReport, verify_chain, verify_record_chain

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify-chain",
        help="check that no fill, check, refusal, alarm or console audit record is missing or altered",
    )
    add_db_options(parser)
    parser.add_argument(
        "--against-platform",
        action="store_true",
        help="also compare every fill with the copy the city platform holds (the config's [platform], "
        "its key from the environment): a chain rewritten here after upload cannot pass",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with database_for(args, read_only=True) as db:
        # Each chain in one consistent snapshot: safe while the floor writes.
        reports = {"fill": verify_chain(db.engine), "record": verify_record_chain(db.engine)}
        local = _local_links(db) if args.against_platform else {}
    for chain, report in reports.items():
        _print(chain, report)
    ok = all(r.ok for r in reports.values())
    if args.against_platform:
        ok = _against_platform(args, local) and ok
    return 0 if ok else 1


def _local_links(db: Database) -> dict[int, str]:
    with db.reading() as conn:
        return {int(row[0]): str(row[1]) for row in conn.execute(select(t.fill.c.seq, t.fill.c.hash))}


def _against_platform(args: argparse.Namespace, local: dict[int, str]) -> bool:
    """Every fill the platform holds must be here with the same hash (a fill not uploaded yet is
    only here: fine). Says the first differences; False when there is one."""
    import os

    import trio

    from fillfloor.commands.serve import sync_settings
    from platform_client.api import PlatformApi, Unavailable, open_client, tls_context

    config = floor_config(args)
    settings = sync_settings(config, os.environ) if config is not None else None
    if settings is None:
        raise BadInput("--against-platform needs the floor's config with its [platform] (--config FILE)")

    async def fetch() -> list[tuple[int, str]]:
        links: list[tuple[int, str]] = []
        async with open_client(settings, tls_context(settings)) as client:
            api, after, more = PlatformApi(client), 0, True
            while more:
                page, more = await api.chain(after)
                links += page
                after = page[-1][0] if page else after
                more = more and bool(page)
        return links

    try:
        held = trio.run(fetch)
    except Unavailable as exc:
        raise BadInput(f"the platform could not be asked: {exc.status}: {exc.detail}") from None
    problems = [
        f"fill #{seq}: {'missing here' if seq not in local else 'not the fill the platform holds'}"
        for seq, hash_ in held
        if local.get(seq) != hash_
    ]
    if not problems:
        print(f"platform copy: the same {len(held)} fill(s)")
        return True
    print(f"platform copy DIFFERS in {len(problems)} fill(s) of {len(held)}:")
    for problem in problems[:20]:
        print(f"  {problem}")
    return False


def _print(chain: str, report: ChainReport) -> None:
    if report.ok:
        print(f"{chain} chain intact: {report.count} record(s)")
        return
    print(f"{chain} chain BROKEN after {report.count} good record(s): {report.problem}")
    for problem in report.problems[1:]:
        print(f"  {problem}")
