"""``mockauth tls trust`` and ``mockauth tls path``: where mockauth's local CA is, and how
to make clients and browsers trust it (``serve --tls`` prints the same at start)."""

from __future__ import annotations

import argparse
import sys

from .common import Parser

EXAMPLE_URL = "https://localhost:8765"


def configure(tls: argparse.ArgumentParser) -> None:
    tls.description = (
        "serve --tls speaks HTTPS with a certificate from a CA that mockauth "
        "makes once and keeps in your data folder ($MOCKAUTH_DATA_DIR overrides it); "
        "trust it once, and every later serve --tls is trusted."
    )
    actions = tls.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions.add_parser("trust", help="print the CA certificate's path and how to trust it").set_defaults(
        run=run_trust
    )
    actions.add_parser("path", help="print the CA certificate's path alone").set_defaults(run=run_path)
    tls.set_defaults(run=lambda args: _usage(tls))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: name an action: trust or path", file=sys.stderr)
    return 2


def run_trust(args: argparse.Namespace) -> int:
    from .._doors.tls import local_ca  # not on the path of `mockauth serve` without --tls

    print("\n".join(trust_lines(str(local_ca().cert_path))))
    return 0


def run_path(args: argparse.Namespace) -> int:
    from .._doors.tls import local_ca

    print(local_ca().cert_path)
    return 0


def trust_lines(ca: str, url: str = EXAMPLE_URL) -> list[str]:
    """The CA certificate's path and one line per common way to trust it."""
    quoted = f'"{ca}"' if " " in ca else ca
    return [
        f"  CA certificate to trust (mockauth's local CA, made once on this machine): {ca}",
        f"    curl:     curl --cacert {quoted} {url}/health",
        f"    Python:   export REQUESTS_CA_BUNDLE={quoted}   (requests)",
        f"              export SSL_CERT_FILE={quoted}   (httpx, urllib, ssl)",
        f"    Node.js:  export NODE_EXTRA_CA_CERTS={quoted}",
        f"    browser:  {_browser_line(quoted)}",
    ]


def _browser_line(ca: str) -> str:
    """This platform's way to make the browsers trust the CA, once."""
    if sys.platform == "darwin":
        return (
            f"security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db {ca}"
            "   (Safari, Chrome; Firefox: Settings > Certificates > Import)"
        )
    if sys.platform == "win32":
        return f"certutil -user -addstore Root {ca}   (Edge, Chrome; Firefox: Settings > Certificates > Import)"
    return (
        f'certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n "mockauth local CA" -i {ca}'
        "   (Chrome, Chromium; certutil is in libnss3-tools; Firefox: Settings > Certificates > Import)"
    )
