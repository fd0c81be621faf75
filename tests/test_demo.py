"""`fillfloor demo` (what `make demo` runs) works on a fresh data directory and says what it decided."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.cli import main


def test_demo_on_a_fresh_data_dir_refuses_the_overdue_cylinder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "HY00120000123: 合格，目标毛重 29.7 kg" in out
    assert "HY00120000124: 拒绝充装：超期未检" in out
    assert (tmp_path / "data" / "fillfloor.db").exists()
    assert main(["demo", "--lang", "en", "--data-dir", str(tmp_path / "data")]) == 0  # rerun is fine
    assert "inspection overdue" in capsys.readouterr().out
