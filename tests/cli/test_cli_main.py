"""The command line's own options: what a person types first."""

from __future__ import annotations

import pytest

from fillfloor import __version__
from fillfloor.cli import main


def test_a_bare_fillfloor_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("serve", "demo", "sim", "simulate-devices", "registry", "trace", "verify-chain", "user"):
        assert command in out, command


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"fillfloor {__version__}"
