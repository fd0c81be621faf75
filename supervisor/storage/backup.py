"""Backing up a running floor's database without stopping it.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies the whole database in one step
from a read transaction. Under WAL a reader sees one consistent snapshot (every transaction
committed before it began, none after) and never blocks the writer, so the floor keeps filling
while the copy is made. Copying the file instead would miss whatever still sits in `-wal`, and could
catch a page half written. The copy is written next to the destination and renamed into place only
once it is complete and checked, so a file at the destination is always a whole backup.

PostgreSQL: `pg_dump --format=custom`, which also reads one snapshot; restore with `pg_restore`.

Everything here blocks: call it from a thread when a trio loop runs (the CLI has none).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from attrs import frozen
from sqlalchemy import URL, make_url

from supervisor.errors import BadInput
from supervisor.storage.engine import create_private

__all__ = ["BackupResult", "backup_postgresql", "backup_sqlite", "pg_dump_command"]


@frozen
class BackupResult:
    path: Path
    size_bytes: int


def backup_sqlite(source: Path, dest: Path) -> BackupResult:
    """Copy the SQLite database `source` to the new file `dest`, consistently, while others write."""
    if not source.is_file():
        raise BadInput(f"no database at {source}")
    _check_new(dest)  # (so never the database itself, which exists)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private(partial)  # a copy of the floor's records: as private as the database
    # Read-only: a backup must never migrate or otherwise touch the floor's database.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        src.execute("PRAGMA busy_timeout=10000")
        out = sqlite3.connect(partial)
        try:
            # pages=-1: one step, one read snapshot. Step-wise copying restarts whenever the floor
            # commits in between, and on a busy floor might never finish.
            src.backup(out, pages=-1)
            # A single self-contained file (no -wal beside it) that can be moved anywhere.
            out.execute("PRAGMA journal_mode=DELETE")
            problem = out.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            out.close()
    finally:
        src.close()
    if problem != "ok":
        partial.unlink(missing_ok=True)
        raise BadInput(f"the copy failed its integrity check: {problem}")
    _fsync(partial)
    partial.replace(dest)
    _fsync(dest.parent)  # the rename is durable once the directory entry is
    return BackupResult(dest, dest.stat().st_size)


def pg_dump_command(db_url: str, dest: Path) -> tuple[list[str], dict[str, str]]:
    """The pg_dump command line and environment for a SQLAlchemy PostgreSQL URL.

    The password goes in PGPASSWORD, not on the command line where `ps` shows it. The URL's other
    connection parameters (sslmode, sslrootcert, sslcert, sslkey, host= for a socket, ...) are
    libpq's own and go to pg_dump as they are: a backup connects as securely as the floor does. A
    URL whose `options` set a search_path (a floor in its own schema) dumps that schema only.
    """
    url = make_url(db_url)
    # A password given as `?password=` is a password too (libpq takes it there): never a parameter.
    params = {k: v for k, v in url.query.items() if k not in ("options", "password")}
    in_query = url.query.get("password")
    password = url.password or (in_query if isinstance(in_query, str) else None)
    libpq = URL.create("postgresql", url.username, None, url.host, url.port, url.database, params)
    command = ["pg_dump", "--format=custom", "--file", str(dest)]
    options = url.query.get("options")
    for text in [options] if isinstance(options, str) else list(options or ()):
        parts = text.split()
        for i, part in enumerate(parts):  # "-csearch_path=x" or "-c search_path=x"
            setting = parts[i + 1] if part == "-c" and i + 1 < len(parts) else part.removeprefix("-c")
            if part.startswith("-c") and setting.startswith("search_path="):
                command += ["--schema", setting.removeprefix("search_path=").split(",")[0]]
    command.append(libpq.render_as_string(hide_password=False))
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return command, env


def backup_postgresql(db_url: str, dest: Path) -> BackupResult:
    """`pg_dump` the database to the new file `dest` (custom format, for `pg_restore`)."""
    _check_new(dest)
    command, env = pg_dump_command(db_url, dest)
    if shutil.which("pg_dump") is None:
        shown = " ".join([*command[:-1], "'postgresql://USER@HOST/DB'"])
        raise BadInput(
            "pg_dump is not installed here: install the PostgreSQL client tools (the same major "
            f"version as the server, or newer), or run on a machine that has them:\n  {shown}"
        )
    partial = dest.with_name(dest.name + ".partial")
    command[command.index(str(dest))] = str(partial)
    partial.unlink(missing_ok=True)
    create_private(partial)  # pg_dump writes into it, keeping its mode: private as the database
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BadInput(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()}")
    _fsync(partial)
    partial.replace(dest)
    _fsync(dest.parent)  # the rename is durable once the directory entry is
    return BackupResult(dest, dest.stat().st_size)


def _check_new(dest: Path) -> None:
    # Never overwrite: the file there may be the only good backup someone has.
    if dest.exists():
        raise BadInput(f"{dest} exists: choose a new file name (backups are never overwritten)")
    if not dest.parent.is_dir():
        raise BadInput(f"no directory {dest.parent}")


def _fsync(path: Path) -> None:
    # A backup that a power cut can leave empty is no backup.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
