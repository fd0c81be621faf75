"""`fillfloor verify-chain --against-platform` (issue 19): the floor's fills compared with the copy
the platform holds, so a chain rewritten here after upload, hashes recomputed, cannot pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import trio
from sqlalchemy import delete, select, update

from platform_client.settings import SyncSettings
from platform_client.sync import PlatformSync
from supervisor.config import PlatformConfig
from supervisor.runtime import EventBus
from supervisor.station.floor import FloorState
from supervisor.storage import open_database
from supervisor.storage import schema as t
from supervisor.storage.chain import canonical_content, content_hash, link_hash
from supervisor.storage.outbox import outbox_backlog
from supervisor.storage.repository import store_all
from tests.support.platform_env import TODAY, UNIT, floor_records, platform_env

ROOT = Path(__file__).resolve().parents[2]


def _verify(config: Path, db_url: str, key: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fillfloor.cli", "verify-chain", "--against-platform", "--config",
               str(config), "--db", db_url]  # fmt: skip
    env = {**os.environ, "FILLFLOOR_PLATFORM_KEY": key}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def _rewrite_from(db_url: str, seq: int) -> None:
    """A thorough forger: fill #seq changed, every later link and the head recomputed, the platform
    anchor deleted (so that the local walk alone passes)."""
    db = open_database(db_url)
    with db.transaction() as conn:
        later = select(t.fill).where(t.fill.c.seq >= seq).order_by(t.fill.c.seq)
        rows = [dict(r) for r in conn.execute(later).mappings()]
        prev = rows[0]["prev_hash"]
        for i, row in enumerate(rows):
            if i == 0:
                row["outcome"] = "aborted"
            content = canonical_content(row)
            new = link_hash(prev, content)
            forged = update(t.fill).where(t.fill.c.seq == row["seq"])
            hashes = {"content_hash": content_hash(content), "prev_hash": prev, "hash": new}
            conn.execute(forged.values(outcome=row["outcome"], content=content, **hashes))
            prev = new
        conn.execute(update(t.chain_head).where(t.chain_head.c.id == t.FILL_CHAIN).values(hash=prev))
        conn.execute(delete(t.chain_head).where(t.chain_head.c.id == t.PLATFORM_FILL_ANCHOR))
    db.close()


async def test_a_chain_rewritten_after_upload_differs_from_the_platforms_copy(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'floor.db'}"
    db = open_database(db_url)
    with db.transaction() as conn:
        store_all(conn, floor_records(4))
    async with platform_env(f"sqlite:///{tmp_path / 'p.db'}") as env:
        settings = SyncSettings(
            PlatformConfig(env.url, sync_interval_s=0.2), UNIT, env.keys[UNIT], timeout_s=5.0
        )
        sync = PlatformSync(settings, db, FloorState(UNIT, lambda: TODAY), EventBus())
        async with trio.open_nursery() as nursery:
            await nursery.start(sync.run)
            with trio.fail_after(20):
                while True:
                    with db.reading() as conn:
                        if outbox_backlog(conn) == 0:
                            break
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        db.close()
        text = (ROOT / "docs" / "fillfloor.example.toml").read_text(encoding="utf-8")
        config = tmp_path / "fillfloor.toml"
        config.write_text(text.replace("https://platform.example.cn/api", env.url), encoding="utf-8")
        same = await trio.to_thread.run_sync(_verify, config, db_url, env.keys[UNIT])
        assert same.returncode == 0, same.stdout + same.stderr
        assert "platform copy: the same 4 fill(s)" in same.stdout
        await trio.to_thread.run_sync(_rewrite_from, db_url, 2)
        forged = await trio.to_thread.run_sync(_verify, config, db_url, env.keys[UNIT])
    assert forged.returncode == 1
    assert "fill chain intact: 4 record(s)" in forged.stdout  # the local walk alone is fooled
    assert "platform copy DIFFERS in 3 fill(s) of 4" in forged.stdout
    assert "fill #2: not the fill the platform holds" in forged.stdout
