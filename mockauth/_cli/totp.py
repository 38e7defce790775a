"""``mockauth totp USER``: the one-time code a user's mfa step takes now."""

from __future__ import annotations

import argparse
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

from .._modes import DEVELOPMENT_CODE
from .common import UsageError, add_settings, load


def configure(totp: argparse.ArgumentParser) -> None:
    totp.description = (
        "Print the code that passes USER's mfa step now: its RFC 6238 TOTP code, "
        "its fixed mfa code, or (a user without mfa) the development code that challenges of "
        "the mfa_required mode take. Read from the fixtures at the wall clock, or with "
        "--server from a running mock, at its clock."
    )
    totp.add_argument("user", help="username or email")
    totp.add_argument("--fixtures", metavar="PATH", help="fixture file or folder (default: the bundled fixtures)")
    totp.add_argument("--spec", metavar="PATH", help=argparse.SUPPRESS)
    totp.add_argument(
        "--server", metavar="URL",
        help="ask this running mock (its clock, its users as they are now), e.g. http://127.0.0.1:8765",
    )
    add_settings(totp)
    totp.set_defaults(run=run_totp)


def run_totp(args: argparse.Namespace) -> int:
    if args.server:
        print(_code_from_server(args.server.rstrip("/"), args.user, args.admin_token))
        return 0
    auth = load(args)
    if auth.find_user(args.user) is None:
        raise UsageError(f"user {args.user!r}: not in the fixtures (users: {', '.join(auth.users)})")
    print(auth.totp(args.user))
    return 0


def _code_from_server(server: str, user: str, admin_token: str | None) -> str:
    try:
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError
        request = urllib.request.Request(server + "/_mockauth/users?passwords=true")
    except ValueError:
        raise UsageError(f"--server {server}: expected the mock's http:// or https:// URL") from None
    if admin_token:
        request.add_header("X-Mockauth-Admin-Token", admin_token)
    try:
        with urllib.request.urlopen(request, timeout=10, context=_trusting_local_ca(parts.scheme)) as answer:
            users = json.load(answer)
    except urllib.error.HTTPError as error:
        raise UsageError(f"--server {server}: GET /_mockauth/users answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise UsageError(f"--server {server}: no answer from a mock there ({reason})") from None
    if not isinstance(users, list) or not all(isinstance(found, dict) for found in users):
        raise UsageError(f"--server {server}: GET /_mockauth/users did not answer a list of users")
    for found in users:
        if user in (found.get("username"), found.get("email")):
            code: str = found.get("mfa_code") or DEVELOPMENT_CODE
            return code
    names = ", ".join(str(found.get("username")) for found in users)
    raise UsageError(f"user {user!r}: not on the mock at {server} (users: {names})")


def _trusting_local_ca(scheme: str) -> ssl.SSLContext | None:
    """For https: the system's CAs and mockauth's local CA, which `serve --tls` speaks with."""
    if scheme != "https":
        return None
    from .._doors.tls import CA_CERT_NAME, data_dir

    context = ssl.create_default_context()
    local = data_dir() / CA_CERT_NAME
    if local.is_file():
        context.load_verify_locations(cafile=str(local))
    return context
