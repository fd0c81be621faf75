"""The command line's own options: what a person types first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fillfloor import __version__
from fillfloor.cli import main
from tests.support.cli_run import GOOD, HEADER, store_fills


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


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path: Path) -> None:
    """`fillfloor trace X | head -1`: the reader goes away; no BrokenPipe traceback, exit 0."""
    db_url = f"sqlite:///{tmp_path / 'floor.db'}"
    csv = tmp_path / "cyl.csv"
    csv.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    assert main(["registry", "import", str(csv), "--unit", "HY0012", "--db", db_url]) == 0
    store_fills(db_url, 2000)  # (more than a pipe holds: the writer meets the closed end)
    fillfloor = [sys.executable, "-m", "fillfloor.cli"]
    trace = subprocess.Popen([*fillfloor, "trace", "HY00120000123", "--db", db_url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert trace.stdout is not None
    assert trace.stderr is not None
    first = trace.stdout.readline()
    trace.stdout.close()  # (as `head -1` does)
    with trace.stderr:
        err = trace.stderr.read().decode()
    assert trace.wait(timeout=60) == 0, err
    assert first
    assert "Traceback" not in err, err
    assert "BrokenPipe" not in err, err


def test_a_gbk_csv_is_refused_with_how_to_save_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "cyl.csv"
    csv.write_bytes((HEADER + GOOD[0].replace("in_service", "在用")).encode("gbk"))
    db_url = f"sqlite:///{tmp_path / 'floor.db'}"
    assert main(["registry", "import", str(csv), "--unit", "HY0012", "--db", db_url]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err
    assert "save it as UTF-8" in err


def test_every_command_and_option_says_what_it_is_in_its_help() -> None:
    """Issue 20: --help for every command and option (serve --config, trace, verify-chain, ...)."""
    import argparse

    from fillfloor.cli import build_parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, sub in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{path} {name}")
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "fillfloor")
    assert missing == []
