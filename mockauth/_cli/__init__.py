"""The ``mockauth`` command: serve, token, check, totp, contract, tls.

Each subcommand lives in a module of its own; ``main`` loads only the one it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._errors import MockAuthError
from .._version import __version__
from . import contract, serve, tls, tools, totp
from .common import Parser, UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mockauth",
        description="A mock auth server and test harness.",
    )
    parser.add_argument("--version", action="version", version=f"mockauth {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    serve.add_parser(commands)
    tools.add_parsers(commands)
    totp.add_parser(commands)
    contract.add_parser(commands)
    tls.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
