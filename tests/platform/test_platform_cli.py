"""`fillfloor platform`: keys printed once that authenticate, the records exported as JSON lines, and
`serve` answering signed requests until SIGTERM ends it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from fillfloor.cli import main
from platform_client.auth import SigningAuth
from platform_server import PlatformApp, open_store, running_platform
from platform_server.key_seal import read_secret_file
from tests.support.platform_env import floor_outbox


@pytest.fixture(autouse=True)
def _secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The platform secret of these tests' platform, in their own directory (not ./data)."""
    path = tmp_path / "secret" / "platform.secret"
    monkeypatch.setenv("FILLFLOOR_PLATFORM_SECRET_FILE", str(path))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_keys_from_the_cli_authenticate_and_export_writes_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'platform.db'}"
    code, out, _ = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气", "--db", db)
    assert code == 0
    key = out.strip()
    assert key.startswith("ffk_")
    code, _, err = run(capsys, "platform", "unit", "add", "HY0012", "--short-name", "衡阳燃气", "--db", db)
    assert (code, "exists already" in err) == (2, True)
    code, _, err = run(capsys, "platform", "unit", "add", "HY0014", "--short-name", "衡阳", "--db", db)
    assert (code, "4 to 6" in err) == (2, True)
    code, _, err = run(capsys, "platform", "party", "add", "市监局", "--kind", "regulator", "--db", db)
    assert (code, "--id" in err) == (2, True)
    code, out, _ = run(
        capsys, "platform", "party", "add", "市监局", "--kind", "regulator", "--id", "REG", "--db", db
    )
    assert code == 0
    assert out.strip().startswith("ffk_")

    outbox: list[dict[str, Any]] = await trio.to_thread.run_sync(floor_outbox, tmp_path, 2)
    store = open_store(db, read_secret_file(tmp_path / "secret" / "platform.secret"))
    try:
        async with running_platform(PlatformApp(store)) as url:
            async with httpx.AsyncClient(base_url=url, auth=SigningAuth("HY0012", key)) as client:
                r = await client.post("/v1/records", json={"records": outbox})
            assert {x["status"] for x in r.json()["results"]} == {"stored"}
    finally:
        store.close()

    code, out, _ = run(capsys, "platform", "export", "--unit", "HY0012", "--kind", "fill", "--db", db)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["record_id"] for x in lines] == ["fill-0001", "fill-0002"]
    assert lines[0]["payload"] == next(x["payload"] for x in outbox if x["record_id"] == "fill-0001")
    code, out, _ = run(capsys, "platform", "export", "--unit", "HY0012", "--db", db)
    assert len(out.splitlines()) == len(outbox)
    assert run(capsys, "platform", "export", "--unit", "HY9999", "--db", db)[0] == 2


def test_serve_answers_until_sigterm_and_exits_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'platform.db'}"
    code, out, _ = run(capsys, "platform", "party", "add", "AG01", "--kind", "agency", "--db", db)
    agency_key = out.strip()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "fillfloor.cli", "platform", "serve", "--listen", "127.0.0.1:0", "--db", db]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert "serving on http://127.0.0.1:" in line, line
            url = line.rsplit(" ", 1)[1].strip()
            with httpx.Client(base_url=url, auth=SigningAuth("AG01", agency_key)) as client:
                assert client.get("/v1/me").json()["kind"] == "agency"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert "stopped (signal 15)" in (proc.stderr.read() if proc.stderr else "")
        finally:
            if proc.poll() is None:
                proc.kill()
    # A port that cannot be bound is the user's to fix: exit 2 with the reason.
    code, _, err = run(capsys, "platform", "serve", "--listen", "256.1.1.1:1", "--db", db)
    assert code == 2
    assert "cannot listen" in err
