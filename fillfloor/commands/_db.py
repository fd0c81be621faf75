"""Opening the database for a command, with a clear message when it cannot be opened."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from supervisor.config import FloorConfig, load_config
from supervisor.errors import BadInput
from supervisor.storage import Database, open_database
from supervisor.storage.database import open_read_only

__all__ = [
    "DEFAULT_CONFIG",
    "database_for",
    "database_location",
    "database_problem",
    "floor_config",
    "open_for",
]

DEFAULT_CONFIG = Path("fillfloor.toml")  # serve's default, and every other command's


def floor_config(args: argparse.Namespace) -> FloorConfig | None:
    """The config the command was given (`--config`), or ./fillfloor.toml when there is one; None
    for a command run without a floor's config (a bad file is one line, exit 2, as for serve)."""
    path = getattr(args, "config", None)
    if path is None:
        if not DEFAULT_CONFIG.is_file():
            return None
        path = DEFAULT_CONFIG
    return load_config(path)


def database_location(args: argparse.Namespace, config: FloorConfig | None) -> tuple[str | None, str]:
    """The database URL and data directory: the command line first, then the config's [storage]."""
    db = args.db or (config.db if config is not None else "") or None
    data_dir = args.data_dir or (config.data_dir if config is not None else "") or "data"
    return db, data_dir


def database_problem(db_url: str | None, data_dir: str, exc: BaseException) -> str:
    """One line: which database (its URL without the password, or the SQLite file) and why not."""
    where = (
        make_url(db_url).render_as_string(hide_password=True)
        if db_url
        else str(Path(data_dir) / "fillfloor.db")
    )
    why = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"cannot open the database {where}: {why[0] if why else type(exc).__name__}"


def open_for(args: argparse.Namespace, *, read_only: bool = False) -> Database:
    """The command's database. `read_only`: an existing one, changed in nothing (a command that
    only reads must not create a database at a mistyped path, nor touch a backup's bytes)."""
    db_url, data_dir = database_location(args, floor_config(args))
    try:
        if read_only:
            return open_read_only(db_url, data_dir)
        return open_database(db_url, data_dir)
    except OperationalError as exc:
        raise BadInput(database_problem(db_url, data_dir, exc)) from None
    except (ValueError, FileNotFoundError) as exc:
        raise BadInput(str(exc)) from None


@contextmanager
def database_for(args: argparse.Namespace, *, read_only: bool = False) -> Iterator[Database]:
    """The command's database, closed when the command is done with it."""
    db = open_for(args, read_only=read_only)
    try:
        yield db
    finally:
        db.close()
