"""fillfloor: a real-time supervisor for LPG cylinder filling floors (扫码充装联锁, fill by weight,
records to the city supervision platform).

The project's code lives in a few top-level packages, from the ground up (docs/architecture.md):
`domain` (pure values and rules), `supervisor.runtime` (the actor runtime), `actors` (device
actors), `supervisor.station` (station coordination), `supervisor.storage`, the services
(`supervisor.console`, `platform_client`), the floor's assembly (`supervisor.floor`,
`supervisor.config`) and, at the top, this package's command line, the simulators, the console and
the reference platform. `import fillfloor` gives the version and the command line's entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

__all__ = ["__version__", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (`fillfloor.cli.main`); imported when called, so that `python -m
    fillfloor.cli` does not find its own module imported already (runpy warns of that)."""
    from fillfloor.cli import main as run

    return run(argv)


try:
    __version__ = metadata.version("fillfloor")
except metadata.PackageNotFoundError:  # (run from a checkout that was never installed)
    __version__ = "0+unknown"
