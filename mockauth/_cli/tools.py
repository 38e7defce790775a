"""``mockauth token`` and ``mockauth check``: a token for a fixture user, fixtures validated."""

from __future__ import annotations

import argparse
import sys

from .._fixtures import fixture_problems, load_fixtures
from .common import UsageError, add_settings, load, plural

# The settings that change the token `mockauth token` prints (the state: a generated
# RS256/ES256 key is the one a server sharing that Redis signs with). The others only
# concern a server.
TOKEN_SETTINGS = (
    "issuer", "audience", "algorithm", "secret", "key_file", "access_token_lifetime", "state", "state_namespace",
)


def configure_token(token: argparse.ArgumentParser) -> None:
    token.add_argument("user", help="username or email")
    token.add_argument("--fixtures", metavar="PATH", help="fixture file or folder (default: the bundled fixtures)")
    token.add_argument("--spec", metavar="PATH", help=argparse.SUPPRESS)
    token.add_argument("--expires-in", type=int, metavar="SECONDS", help="lifetime; negative for an expired token")
    add_settings(token, TOKEN_SETTINGS)
    token.set_defaults(run=run_token)


def configure_check(check: argparse.ArgumentParser) -> None:
    check.description = (
        "Every mistake gets one line on stderr naming the file, the entry and the "
        "field; exit status 2 when there is any."
    )
    check.add_argument("path", nargs="+", help="fixture file or folder")
    check.set_defaults(run=run_check)


def run_token(args: argparse.Namespace) -> int:
    auth = load(args)
    user = auth.find_user(args.user)
    if user is None:
        raise UsageError(f"user {args.user!r}: not in the fixtures (users: {', '.join(auth.users)})")
    if auth.settings.algorithm != "HS256" and not auth.settings.key_file:
        print(
            "mockauth: warning: no --key-file, so this token is signed with a key made for this "
            "command alone and no server will accept it",
            file=sys.stderr,
        )
    print(auth.issue_token(user.username, expires_in=args.expires_in))
    return 0


def run_check(args: argparse.Namespace) -> int:
    failed = False
    for path in args.path:
        problems = fixture_problems(path)
        for problem in problems:
            print(f"mockauth check: error: {problem}", file=sys.stderr)
        if problems:
            failed = True
            continue
        fixtures = load_fixtures(path)
        names = ", ".join(user.username for user in fixtures.users)
        line = f"{path}: ok, {plural(len(fixtures.users), 'user')} ({names})"
        if fixtures.clients:
            clients = ", ".join(client.client_id for client in fixtures.clients)
            line += f", {plural(len(fixtures.clients), 'client')} ({clients})"
        print(line)
    return 2 if failed else 0
