"""Every command that touches the floor's data takes the floor's own config (issue 20): its
[storage] says where the database is, its [unit] which unit imports, its stations which an operator
may be given; `registry list` and `operators list` show what the floor decides by."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli_run import GOOD, HEADER, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The documented example config, its database in a folder of this test's own."""
    text = (ROOT / "docs" / "fillfloor.example.toml").read_text(encoding="utf-8")
    text = text.replace('data_dir = "data"', f'data_dir = "{tmp_path / "floordata"}"', 1)
    path = tmp_path / "fillfloor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_import_takes_the_unit_and_the_database_from_the_config(
    tmp_path: Path, config: Path, capsys
) -> None:
    rows = tmp_path / "cylinders.csv"
    rows.write_text(HEADER + "".join(GOOD), encoding="utf-8")
    code, _out, err = run(capsys, "registry", "import", str(rows), "--config", str(config))
    assert (code, err) == (0, "")  # no --unit: the config's
    assert (tmp_path / "floordata" / "fillfloor.db").is_file()  # where serve will look
    code, out, err = run(capsys, "registry", "list", "--config", str(config))
    assert code == 0
    assert out.splitlines() == [
        "code\tmodel\ttare_kg\tstatus\tnext_inspection\tblocked",
        "HY00120000123\tYSP35.5\t15.200\tin_service\t2027-06-01\t",
        "HY00120000124\tYSP35.5\t15.000\tin_service\t2025-03-01\t",
    ]
    assert "2 cylinder(s)" in err
    code, out, _ = run(capsys, "registry", "list", "--config", str(config), "--status", "scrapped")
    assert out.splitlines()[1:] == []


def test_operators_list_marks_an_expired_certificate(tmp_path: Path, config: Path, capsys) -> None:
    rows = tmp_path / "operators.csv"
    rows.write_text(
        "id,name,certificate_expires\nOP01,张三,2099-12-31\nOP02,李四,2020-01-01\n", encoding="utf-8"
    )
    assert run(capsys, "operators", "import", str(rows), "--config", str(config))[0] == 0
    code, out, _ = run(capsys, "operators", "list", "--config", str(config))
    assert code == 0
    assert out.splitlines()[1:] == ["OP01\t张三\t2099-12-31\t", "OP02\t李四\t2020-01-01\tyes"]


def test_a_list_never_creates_a_database(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "registry", "list", "--data-dir", str(tmp_path / "nowhere"))
    assert code == 2
    assert "no database" in err or "does not exist" in err or "not found" in err
    assert not (tmp_path / "nowhere").exists()


def test_an_operator_user_for_a_station_the_floor_does_not_have_is_refused(config: Path, capsys) -> None:
    code, _, err = run(
        capsys, "user", "add", "张三", "--role", "operator", "--station", "S9", "--config", str(config)
    )
    assert code == 2
    assert "--station S9: not a station of this floor (S1, S2)" in err
    code, out, _ = run(
        capsys, "user", "add", "张三", "--role", "operator", "--station", "S1", "--config", str(config)
    )
    assert code == 0
    assert len(out.strip()) >= 32


def test_the_command_line_wins_over_the_config(tmp_path: Path, config: Path, capsys) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert (
        run(capsys, "user", "add", "王班长", "--role", "supervisor", "--config", str(config), "--db", other)[
            0
        ]
        == 0
    )
    assert (tmp_path / "other.db").is_file()
    assert not (tmp_path / "floordata").exists()


def test_a_bad_config_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[unit\n", encoding="utf-8")
    code, out, err = run(capsys, "user", "list", "--config", str(bad))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "invalid TOML" in err
