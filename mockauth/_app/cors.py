"""CORS, so a page on a dev server (Vite on :5173, ...) can call the mock from a browser.

A few functions rather than a library: the mock needs exactly one policy (echo an
allowed origin, expose the headers its errors carry, answer preflights before routing
with the path's real methods, refuse other origins in the spec's JSON error shape).
flask-cors and the ASGI middlewares need a framework the mock does not use, and the one
plain-WSGI middleware (wsgicors) has had no release since 2017.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from werkzeug.datastructures import Headers

# What a login page must be able to read from an error: when to retry, and why a token
# was refused (RFC 6750). X-Mockauth-Mode is the per-request failure switch.
EXPOSED_HEADERS = ("Retry-After", "WWW-Authenticate")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Mockauth-Mode")
MAX_AGE = "600"


@lru_cache(maxsize=16)
def _pattern(origins: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for the allowed origins. ``:*`` is any port or none; any other ``*``
    is part of a host, never across ``/``, ``:`` or ``@``, so ``http://localhost:*``
    cannot be satisfied by ``http://localhost.evil.example``."""
    if "*" in origins:
        return re.compile(r".*", re.DOTALL)
    parts = [
        re.escape(origin).replace(r":\*", r"(?::[0-9]+)?").replace(r"\*", r"[a-z0-9.-]+")
        for origin in origins
    ]
    return re.compile("|".join(f"(?:{part})" for part in parts)) if parts else None


def allowed(origin: str, origins: tuple[str, ...]) -> bool:
    pattern = _pattern(origins)
    return pattern is not None and pattern.fullmatch(origin.lower()) is not None


def add_headers(headers: Headers, origin: str) -> None:
    """The headers of any answer to an allowed origin, success or error alike."""
    headers["Access-Control-Allow-Origin"] = origin
    # The origin is echoed rather than '*' so fetch(..., {credentials: "include"}) works too.
    headers["Access-Control-Allow-Credentials"] = "true"
    headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    headers.add("Vary", "Origin")


def preflight_headers(
    headers: Headers,
    origin: str,
    methods: Iterable[str],
    requested_headers: str | None,
    private_network: bool,
) -> None:
    add_headers(headers, origin)
    headers["Access-Control-Allow-Methods"] = ", ".join(methods)
    # A mock should not be the reason a page breaks: whatever extra headers the page
    # sends (X-Request-Id, ...) are allowed along with the ones mockauth reads.
    names = list(ALLOWED_HEADERS)
    for name in (requested_headers or "").split(","):
        name = name.strip()
        if name and name.lower() not in (n.lower() for n in names):
            names.append(name)
    headers["Access-Control-Allow-Headers"] = ", ".join(names)
    headers["Access-Control-Max-Age"] = MAX_AGE
    if private_network:
        # Chrome's Private Network Access: a public page calling a loopback server.
        headers["Access-Control-Allow-Private-Network"] = "true"
