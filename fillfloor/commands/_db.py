"""Opening the database for a command, with a clear message when it cannot be opened."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

from supervisor.errors import BadInput
from supervisor.storage import Database, open_database
from supervisor.storage.database import open_read_only

__all__ = ["database_for", "open_for"]


def open_for(args: argparse.Namespace, *, read_only: bool = False) -> Database:
    """The command's database. `read_only`: an existing one, changed in nothing (a command that
    only reads must not create a database at a mistyped path, nor touch a backup's bytes)."""
    try:
        if read_only:
            return open_read_only(args.db, args.data_dir)
        return open_database(args.db, args.data_dir)
    except OperationalError as exc:
        raise BadInput(f"cannot open the database: {exc.orig}") from None
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
