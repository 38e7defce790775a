"""What every auth check may do against the target: log in, call me, refresh, log out,
judge a refusal, and take JWTs apart. A check fails with ``Failed`` and the exchanges
that prove it, or is skipped with ``Skipped`` and the reason it could not run."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .client import Client, Exchange
from .results import WRONG_PASSWORD, RunOptions


class Failed(Exception):
    def __init__(self, reason: str, *exchanges: Exchange) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exchanges = exchanges


class Skipped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Login:
    exchange: Exchange
    access_token: str
    refresh_token: str | None
    body: Mapping[str, Any]


class Probe:
    """What every auth check may do against the target."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.client = Client(options.url, options.headers, options.timeout)

    def login(self, username: str | None = None, password: str | None = None) -> Exchange:
        c = self.options
        fields = [
            ("username", c.username if username is None else username),
            ("password", c.password if password is None else password),
        ]
        return self.client.send("POST", "/auth/login", form=fields)

    def wrong_password(self) -> str:
        # Not derived from the real one, so reports can show it without giving that away.
        password = self.options.password
        return WRONG_PASSWORD if password != WRONG_PASSWORD else WRONG_PASSWORD + "-2"

    def token(self) -> Login:
        """A fresh login with the given credentials, or skip: the check needs one."""
        exchange = self.login()
        token = exchange.field("access_token")
        if exchange.status != 200 or not isinstance(token, str) or not token:
            raise Skipped(
                "needs a token, but logging in with the given credentials gave "
                f"{exchange.answer()} (see login_succeeds)"
            )
        refresh = exchange.field("refresh_token")
        return Login(
            exchange,
            token,
            refresh if isinstance(refresh, str) and refresh else None,
            exchange.json(),
        )

    def me(self, token: str | None, *, authorization: str | None = None) -> Exchange:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.send("GET", "/auth/me", headers=headers)

    def working_token(self) -> Login:
        """A token /auth/me accepts; without one, refusals prove nothing."""
        login = self.token()
        answer = self.me(login.access_token)
        if answer.status != 200:
            raise Skipped(
                f"needs /auth/me to accept a fresh token, but it gave {answer.answer()} "
                "(see me_accepts_token)"
            )
        return login

    def refresh(self, refresh_token: str) -> Exchange:
        return self.client.send("POST", "/auth/refresh", form=[("refresh_token", refresh_token)])

    def logout(self, token: str) -> Exchange:
        return self.client.send(
            "POST", "/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )

    def refused(self, exchange: Exchange, what: str, *, bearer: bool = True) -> None:
        """A bearer refusal: 401 with WWW-Authenticate (RFC 6750 section 3)."""
        if exchange.status is None:
            raise Failed(f"{what}: {exchange.answer()}", exchange)
        if 200 <= exchange.status < 300:
            raise Failed(
                f"{what} was accepted ({exchange.answer()}); it must be refused with 401", exchange
            )
        if exchange.status != 401:
            raise Failed(
                f"{what} got {exchange.answer()}; a refused bearer token must get 401", exchange
            )
        challenge = exchange.header("WWW-Authenticate")
        if bearer and (not challenge or not challenge.strip().lower().startswith("bearer")):
            raise Failed(
                f"{what} got 401 without a 'WWW-Authenticate: Bearer ...' header "
                "(RFC 6750 section 3)",
                exchange,
            )


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(header, claims, signature) of a compact JWS, or None if it is not one."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header = json.loads(b64decode(pieces[0]))
        claims = json.loads(b64decode(pieces[1]))
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, pieces[2]


def encode_json(value: Mapping[str, Any]) -> str:
    return b64encode(json.dumps(value, separators=(",", ":")).encode())


def decoded(login: Login) -> tuple[dict[str, Any], dict[str, Any], str]:
    parts = jwt_parts(login.access_token)
    if parts is None:
        raise Skipped(
            "the access token is not a JWT, so it cannot be altered (see access_token_is_jwt)"
        )
    return parts
