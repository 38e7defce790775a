"""Safe defaults for a server that other machines can reach.

On a loopback address the mock is open, as a test tool should be. Bound to any other
address (``0.0.0.0`` included: it listens on every interface), it refuses the built-in
HMAC secret, prints that it is a mock, and guards its control API and dashboard with an
admin token: ``--admin-token`` / ``admin_token``, or one generated and printed at start.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from typing import TYPE_CHECKING, NamedTuple

from .._app.admin import ADMIN_HEADER, ADMIN_QUERY, Guard
from .._errors import ConfigError
from .._settings import DEFAULT_SECRET

if TYPE_CHECKING:
    from .._app import App


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


class Exposure(NamedTuple):
    """How a server about to bind `host` is guarded."""

    host: str
    loopback: bool
    admin_token: str | None
    generated: bool

    @property
    def guard(self) -> Guard:
        """What the server checks on each request it answers (and nothing else does:
        the in-process doors of the same mock stay open)."""
        return Guard(self.admin_token, self.host)

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


def expose(app: App, host: str) -> Exposure:
    """Check the settings for serving `app` on `host`, and choose its admin token (the
    setting's, or one generated off loopback); the server applies it through its guard.

    Raises ConfigError when a non-loopback server would sign with the public default secret.
    """
    settings = app.settings
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
    return Exposure(host, loopback, token, generated)
