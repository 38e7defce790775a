"""The ``mockauth`` command: serve, token, check, totp, contract, tls.

Each subcommand lives in a module of its own; ``main`` imports only the one it runs and
builds only its flags (the top-level help needs each command's name and summary alone).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._errors import MockAuthError
from .._version import __version__
from .common import Parser, UsageError

# command -> ("module:function" that adds its flags, the summary the top-level help shows)
COMMANDS = {
    "serve": ("serve:configure", "run the mock auth server"),
    "token": ("tools:configure_token", "print a valid access token for a fixture user"),
    "check": ("tools:configure_check", "validate fixture files"),
    "totp": ("totp:configure", "print the one-time code that passes a user's mfa step now"),
    "contract": ("contract:configure", "hold a running auth server to openapi.yaml and the auth rules"),
    "tls": ("tls:configure", "mockauth's local certificate authority for serve --tls"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, the other commands get their name and summary alone."""
    parser = Parser(
        prog="mockauth",
        description="A mock auth server and test harness.",
    )
    parser.add_argument("--version", action="version", version=f"mockauth {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (where, summary) in COMMANDS.items():
        subparser = commands.add_parser(name, help=summary)
        subparser.set_defaults(parser=subparser)
        if only is None or only == name:
            module, function = where.split(":")
            getattr(importlib.import_module(f".{module}", __name__), function)(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # The top level takes no flag with a value, so the first word that is not a flag is
    # the command (or a mistake, which argparse then reports with every choice).
    command = next((word for word in argv if not word.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # A subcommand's unknown flag: its own help has the flags it takes.
        (getattr(args, "parser", None) or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
        return code
    except (UsageError, MockAuthError) as error:
        print(f"mockauth {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
