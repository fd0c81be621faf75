"""The `fillfloor` command tree.

One argparse tree; each command lives in its own module under `fillfloor/commands/` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable taking the parsed
namespace and returning the exit status. Exit status: 0 ok, 1 internal error, 2 usage or bad input
(`BadInput`, raised anywhere below, is printed without a traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from supervisor.errors import BadInput

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that `--help` of one command never pays for importing another's stack.
    from fillfloor import __version__
    from fillfloor.commands import register_all

    parser = argparse.ArgumentParser(
        prog="fillfloor",
        description="LPG cylinder filling-floor supervisor: scan-to-fill interlock, fill by weight, "
        "records to the city platform.",
    )
    parser.add_argument("--version", action="version", version=f"fillfloor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(subparsers)
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pymodbus serves only as framer and PDU codec (and as the simulators' servers): the floor
    # counts and reports device errors itself, so pymodbus's own log lines would be noise.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `fillfloor`: what it can do
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except BadInput as exc:
        print(f"fillfloor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader has gone (`fillfloor trace X | head`): it had what it wanted. Quietly, and
        # stdout pointed at nothing, so that the exit's own flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception:
        traceback.print_exc()
        print("fillfloor: internal error (the traceback above is for a bug report)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
