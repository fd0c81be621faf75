"""Symlinks that put a pty at a serial port's path, as udev's /dev/serial/by-id/ names point at a tty.

A simulated serial device lives on a pty pair; the floor opens a path. `point_link` makes (or moves,
atomically, so a reader never sees it missing) a symlink at that path to the pty's slave. For a path
a plant configured (`fillfloor simulate-devices`), `claim_link` first checks that nothing but such a
link is there: a real device node or file is never replaced. A symlink to a pty (/dev/pts/N) counts
as ours: the one a run that was killed left behind.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from supervisor.errors import BadInput

__all__ = ["claim_link", "is_pty_link", "point_link", "remove_link"]

_PTY_DIR = "/dev/pts/"


def is_pty_link(path: Path) -> bool:
    """A symlink to a pty slave (whether or not that pty still exists)."""
    return path.is_symlink() and os.readlink(path).startswith(_PTY_DIR)


def claim_link(path: Path, what: str) -> None:
    """Check that a link may be made at `path` for `what` (e.g. "S1.scanner"); BadInput if not."""
    if path.exists() or path.is_symlink():
        if not is_pty_link(path):
            raise BadInput(f"{what}: {path} exists and is not a link to a pty made by simulate-devices: "
                           "choose a free path for the simulated device")  # fmt: skip
        return
    if not path.parent.is_dir():
        raise BadInput(f"{what}: {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise BadInput(f"{what}: {path}: no permission to create a link in {path.parent} (creating "
                       "/dev/ttyUSB0 needs root: choose a path of your own in the config)")  # fmt: skip


def point_link(path: Path, target: str) -> None:
    """Make `path` a symlink to `target`, replacing a previous link in one step."""
    tmp = path.with_name(path.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    tmp.replace(path)


def remove_link(path: Path) -> None:
    """Remove `path` if it is a link to a pty (never anything else)."""
    if is_pty_link(path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
