"""The gates of a server reachable over a socket: the admin token of the control API and
dashboard (a server reachable from other machines, or the ``admin_token`` setting), and
the Host check that keeps DNS rebinding out.

A door that listens on a socket puts a ``Guard`` in each request's environ under
``GUARD_KEY``; the in-process doors put none, since nothing reaches them through a
browser or a network. So the same app serves a live server and ``responses`` at once,
each with the rules that fit it.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from functools import lru_cache
from typing import NamedTuple

from werkzeug.wrappers import Request, Response

from .http import ApiError

ADMIN_HEADER = "X-Mockauth-Admin-Token"
ADMIN_COOKIE = "mockauth_admin_token"
ADMIN_QUERY = "admin_token"
CONTROL_PREFIX = "/_mockauth"
GUARD_KEY = "mockauth.guard"


class Guard(NamedTuple):
    """What a live server asks of every request it answers: the admin token of the
    control API and dashboard (generated when serving off loopback), and a Host header
    that names this server.

    The Host must be a loopback name (``localhost``, ``*.localhost``), an IP address,
    the address the server is bound to, or one of the ``allowed_hosts`` setting
    (``*.example.test`` for subdomains; ``*`` turns the check off). A page on an
    attacker's domain that resolves to 127.0.0.1 (DNS rebinding) sends its own name,
    so it is refused; an IP address cannot be rebound, so it is never refused.
    """

    admin_token: str | None = None
    bound: str = "127.0.0.1"

    def allows_host(self, host: str | None, allowed_hosts: tuple[str, ...]) -> bool:
        if not host or "*" in allowed_hosts:
            return True  # no Host at all is HTTP/1.0 from a program: no browser sends that
        return len(host) <= MAX_HOST and _host_allowed(host, self.bound, allowed_hosts)


# Every request asks, nearly always about the same few Host values: parsing an address
# each time was a twentieth of a login. Bounded, whatever Host values clients send.
@lru_cache(maxsize=1024)
def _host_allowed(host: str, bound: str, allowed_hosts: tuple[str, ...]) -> bool:
    name = host_name(host)
    if name is None:
        return False
    if name == "localhost" or name.endswith(".localhost") or _is_address(name):
        return True
    if name == host_name(bound):
        return True
    return any(
        name.endswith(pattern[1:]) if pattern.startswith("*.") else name == pattern
        for pattern in allowed_hosts
    )


# A Host header value (RFC 9110 7.2): a DNS name (underscores too: Docker service
# names have them), an IPv4 address or a bracketed IPv6 one, and an optional port.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_VALID_HOST = re.compile(
    rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::(?:[1-9][0-9]{{0,4}}))?", re.IGNORECASE
)


# A DNS name has at most 253 characters, a bracketed IPv6 address far fewer; with a port,
# no Host header is longer. Longer ones are refused, and never cached.
MAX_HOST = 300


def valid_host(host: str) -> bool:
    """Whether a Host header value is one (an invalid one gets 400, RFC 9112 3.2)."""
    return len(host) <= MAX_HOST and _valid_host(host)


@lru_cache(maxsize=1024)
def _valid_host(host: str) -> bool:
    match = _VALID_HOST.fullmatch(host)
    port = host.rpartition(":")[2] if match and ":" in host.rpartition("]")[2] else None
    return match is not None and (port is None or int(port) <= 65535)


def host_name(host: str) -> str | None:
    """The name in a Host header value, lowercased, without port or trailing dot; None
    when it is not one."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or (host[end + 1:] and not host[end + 1:].startswith(":")):
            return None
        return host[: end + 1]
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name.rstrip(".") or None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def host_refusal(host: str) -> ApiError:
    shown = host_name(host) or host
    return ApiError(
        403, "host_not_allowed",
        f"This mockauth server does not answer for the host {shown!r} (a page on another "
        f"domain resolving to this machine, DNS rebinding, would look like this). To allow "
        f"it, start mockauth with --allowed-hosts {shown} (setting allowed_hosts; '*' turns "
        "the check off).",
    )


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
