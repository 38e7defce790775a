"""Safe defaults for a server that other machines can reach.

On a loopback address the mock is open, as a test tool should be. Bound to any other
address (``0.0.0.0`` included: it listens on every interface), it refuses the built-in
HMAC secret, prints that it is a mock, and guards its control API and dashboard with an
admin token: ``--admin-token`` / ``admin_token``, or one generated and printed at start.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from ._errors import ConfigError
from ._http import ApiError
from ._settings import DEFAULT_SECRET

if TYPE_CHECKING:
    from ._core import MockAuth

ADMIN_HEADER = "X-Mockauth-Admin-Token"
ADMIN_COOKIE = "mockauth_admin_token"
ADMIN_QUERY = "admin_token"
CONTROL_PREFIX = "/_mockauth"


def is_loopback(host: str) -> bool:
    """True when `host` reaches only this machine: 127.0.0.0/8, ::1, or a name that
    resolves to loopback addresses alone. The wildcard addresses are not loopback."""
    name = host.strip("[]")
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False  # unresolvable: binding will fail anyway; assume the worst
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


@dataclass(frozen=True)
class Exposure:
    """How a server about to bind `host` is guarded."""

    host: str
    loopback: bool
    admin_token: str | None
    generated: bool

    def warnings(self) -> list[str]:
        """What to print at start (never the token itself unless it was generated)."""
        if self.loopback:
            return []
        lines = [
            f"warning: listening on {self.host}, which other machines can reach. "
            "This is mockauth, a MOCK auth server for tests: "
            "never use it as a real identity provider.",
        ]
        if self.generated:
            lines.append(
                f"control API and dashboard need the admin token {self.admin_token} "
                f"(header {ADMIN_HEADER}, or open /_mockauth/?{ADMIN_QUERY}=<token>)"
            )
        else:
            lines.append(
                "control API and dashboard need the admin token given in the settings "
                f"(header {ADMIN_HEADER})"
            )
        return lines


def expose(auth: MockAuth, host: str) -> Exposure:
    """Check the settings for serving on `host` and arm the admin token if needed.

    Raises ConfigError when a non-loopback server would sign with the public default secret.
    """
    settings = auth.settings
    loopback = is_loopback(host)
    if not loopback and settings.algorithm == "HS256" and settings.secret == DEFAULT_SECRET:
        raise ConfigError(
            f"setting 'secret': the built-in default secret is public, so it is refused on "
            f"{host}, which is not a loopback address; give a secret of your own "
            "(at least 32 bytes) or use algorithm RS256 or ES256"
        )
    token, generated = settings.admin_token, False
    if token is None and not loopback:
        token, generated = secrets.token_urlsafe(24), True
    if token is not None:
        auth.app.admin_token = token
    return Exposure(host, loopback, token, generated)


def admin_gate(request: Request, token: str) -> Response | None:
    """None when the request carries the admin token; otherwise the answer to send.

    The token comes in the ``X-Mockauth-Admin-Token`` header, or in the cookie the
    dashboard sets after it is opened once with ``?admin_token=<token>``.
    """
    expected = token.encode()
    for value in (request.headers.get(ADMIN_HEADER), request.cookies.get(ADMIN_COOKIE)):
        if value is not None and hmac.compare_digest(value.encode(), expected):
            return None
    query = request.args.get(ADMIN_QUERY)
    if (
        query is not None
        and request.method == "GET"
        and hmac.compare_digest(query.encode(), expected)
    ):
        # Trade the token in the address bar for a cookie, so it leaves the URL (and the
        # browser history) at once; SameSite keeps other sites' pages from using it.
        response = Response(
            status=303, headers=[("Location", request.path), ("Cache-Control", "no-store")]
        )
        response.set_cookie(
            ADMIN_COOKIE, token, path=CONTROL_PREFIX, httponly=True, samesite="Strict"
        )
        return response
    given = (request.headers.get(ADMIN_HEADER), request.cookies.get(ADMIN_COOKIE), query)
    described = "missing" if all(value is None for value in given) else "wrong"
    return ApiError(
        401, "admin_token_required",
        f"The control API of this server needs its admin token ({described} here): send the "
        f"{ADMIN_HEADER} header, or open /_mockauth/?{ADMIN_QUERY}=<token> in a browser.",
        [("WWW-Authenticate", 'MockauthAdmin realm="mockauth-control"')],
    ).response()
