"""``mockauth contract``: hold a running auth server to openapi.yaml and the auth rules."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .common import UsageError, positive_float, positive_int


def add_parser(commands: Any) -> None:
    contract = commands.add_parser(
        "contract", help="hold a running auth server to openapi.yaml and the auth rules",
        description="Exit status: 0 every check passed or was skipped, 1 a check failed, "
        "2 bad usage or an unreachable target.",
    )
    add = contract.add_argument
    add("url", help="base URL of the auth server, e.g. https://auth.staging.example.com")
    add("--username", help="a user that can log in (default: $MOCKAUTH_CONTRACT_USERNAME)")
    add("--password", help="its password (default: $MOCKAUTH_CONTRACT_PASSWORD, kept out of ps)")
    add("--spec", metavar="PATH", help="OpenAPI document (default: the bundled openapi.yaml)")
    add("--max-examples", type=positive_int, metavar="N", help="schemathesis examples per phase")
    add("--seed", type=int, metavar="S", help="schemathesis seed, to repeat a run")
    add("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    add(
        "--header", action="append", default=[], metavar="NAME:VALUE",
        help="send this header on every request, e.g. an API gateway key (repeatable)",
    )
    add("--timeout", type=positive_float, default=10.0, metavar="S",
        help="seconds per request (default: 10)")
    add("--exclude-check", action="append", default=[], metavar="NAME",
        help="skip this check (repeatable)")
    add(
        "--expired-token", metavar="TOKEN",
        help="an expired access token the target signed, for me_refuses_expired_token",
    )
    add(
        "--expiry-wait", type=positive_float, default=10.0, metavar="S",
        help="wait out a token's lifetime when it is at most this long (default: 10)",
    )
    add("--no-schema", action="store_true", help="auth checks only, no schemathesis run")
    contract.set_defaults(run=run_contract)


def run_contract(args: argparse.Namespace) -> int:
    from .._contract import CHECK_NAMES, PASSWORD_VARIABLE, USERNAME_VARIABLE, Contract

    username = args.username or os.environ.get(USERNAME_VARIABLE)
    password = args.password or os.environ.get(PASSWORD_VARIABLE)
    if not username:
        raise UsageError(f"--username is required (or set {USERNAME_VARIABLE})")
    if not password:
        raise UsageError(f"--password is required (or set {PASSWORD_VARIABLE})")
    headers = {}
    for item in args.header:
        name, colon, value = item.partition(":")
        if not colon or not name.strip():
            raise UsageError(f"--header {item!r}: expected NAME:VALUE")
        headers[name.strip()] = value.strip()
    for name in args.exclude_check:
        if name not in CHECK_NAMES:
            known = ", ".join(CHECK_NAMES)
            raise UsageError(f"--exclude-check {name}: unknown check (known: {known})")
    if args.spec is not None and not Path(args.spec).is_file():
        raise UsageError(f"--spec {args.spec}: no such file")
    if args.junit_xml and not Path(args.junit_xml).resolve().parent.is_dir():
        raise UsageError(f"--junit-xml {args.junit_xml}: no such directory")
    contract = Contract(
        args.url, username=username, password=password, spec=args.spec,
        max_examples=args.max_examples, seed=args.seed, headers=headers, timeout=args.timeout,
        exclude_checks=args.exclude_check, expired_token=args.expired_token,
        expiry_wait=args.expiry_wait, schema=not args.no_schema,
    )
    report = contract.run(progress=lambda line: print(line, flush=True))
    print()
    print(report.render(), flush=True)
    if args.junit_xml:
        try:
            Path(args.junit_xml).write_text(report.junit_xml(), encoding="utf-8")
        except OSError as error:
            reason = error.strerror
            raise UsageError(f"--junit-xml {args.junit_xml}: cannot write: {reason}") from None
    return report.exit_code
