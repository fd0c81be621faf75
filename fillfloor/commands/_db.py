"""Opening the database for a command, with a clear message when it cannot be opened."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError

from supervisor.errors import BadInput
from supervisor.storage import Database, open_database

__all__ = ["database_for", "open_for"]


def open_for(args: argparse.Namespace) -> Database:
    try:
        return open_database(args.db, args.data_dir)
    except OperationalError as exc:
        raise BadInput(f"cannot open the database: {exc.orig}") from None
    except ValueError as exc:
        raise BadInput(str(exc)) from None


@contextmanager
def database_for(args: argparse.Namespace) -> Iterator[Database]:
    """The command's database, closed when the command is done with it."""
    db = open_for(args)
    try:
        yield db
    finally:
        db.close()
