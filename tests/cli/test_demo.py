"""`fillfloor demo` (what `make demo` runs): a live simulated floor on a fresh data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from fillfloor.cli import main


def test_demo_fills_and_refuses_on_a_fresh_data_dir_and_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["demo", "--headless", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "[S1] 充装完成 HY00120000123：净重 14." in out
    assert "[S1] 拒绝充装 HY00120000124：超期未检" in out
    assert "充装记录链完整（1 条）" in out
    assert (data / "fillfloor.db").exists()
    assert (data / "demo-events.jsonl").read_text(encoding="utf-8").count('"fill.completed"') == 1
    assert main(["demo", "--headless", "--lang", "en", "--data-dir", str(data)]) == 0  # the same data again
    out = capsys.readouterr().out
    assert "inspection overdue" in out
    assert "fill chain intact (2 records)" in out
