"""`fillfloor console [URL] --token T`: the Textual console, attached to a running floor.

A separate process from the floor (closing it never stops a station). The token is a console
user's (`fillfloor user add`); give it with `--token` or, to keep it out of the process list, in
the environment as FILLFLOOR_TOKEN. `wss://` URLs verify the server's certificate (`--ca FILE` for
a plant's own CA); there is no switch to turn verification off.
"""

from __future__ import annotations

import argparse
import os
import ssl

from supervisor.errors import BadInput

__all__ = ["register", "run_console"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("console", help="open the terminal console on a running floor")
    parser.add_argument("url", nargs="?", default="ws://127.0.0.1:8765",
                        help="the floor's console address (default ws://127.0.0.1:8765)")  # fmt: skip
    parser.add_argument("--token", help="your console token (default: $FILLFLOOR_TOKEN)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default zh)")
    parser.add_argument("--ca", metavar="FILE", help="CA certificate to verify a wss:// floor by")
    parser.set_defaults(func=run)


def _ssl_context(url: str, ca: str | None) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        if ca:
            raise BadInput("--ca is for wss:// addresses")
        return None
    try:
        return ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise BadInput(f"--ca {ca}: {exc}") from None


def run_console(url: str, token: str, lang: str, ssl_context: ssl.SSLContext | None = None) -> int:
    from tui.app import ConsoleApp
    from tui.connection import ConsoleConnection
    from tui.i18n import Texts
    from tui.model import ConsoleModel

    model = ConsoleModel()
    app = ConsoleApp(model, Texts(lang), ConsoleConnection(url, token, model, ssl_context=ssl_context))
    app.run()
    return 0


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("FILLFLOOR_TOKEN", "")
    if not token:
        raise BadInput("a token is needed: --token T or FILLFLOOR_TOKEN (fillfloor user add NAME --role R)")
    if not args.url.startswith(("ws://", "wss://")):
        raise BadInput(f"{args.url}: the console address starts with ws:// or wss://")
    return run_console(args.url, token, args.lang, _ssl_context(args.url, args.ca))
