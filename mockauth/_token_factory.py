"""The ``mockauth_token`` fixture's factory: valid, expired and tampered tokens, from the
mock or, under ``--mockauth-target``, from a real login."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._errors import ConfigError, UnknownUserError
from ._fixtures import load_fixtures
from ._spec import default_fixtures_path

if TYPE_CHECKING:
    from ._mock import MockAuth


def skip_reason(what: str, target: str) -> str:
    return (
        f"needs mock-only control ({what}); --mockauth-target {target} is a real "
        "deployment, which mockauth cannot arm modes on, move the clock of, read the "
        "journal of or add users to"
    )


class TokenFactory:
    """``mockauth_token(user=None, *, expired=False, tampered=False, expires_in=None, **claims)``.

    A valid access token for a fixture user (the first one by default, by username or
    email); ``expired=True`` one already expired; ``tampered=True`` one whose payload was
    changed after signing (its ``exp`` pushed an hour later), so its signature no longer
    matches. Under --mockauth-target tokens come from a real login with the fixture
    user's password; expired tokens and extra claims need the mock and skip the test.
    """

    def __init__(
        self, auth: MockAuth | None, target: str | None, fixtures: str | Path | None
    ) -> None:
        self.auth = auth
        self.target = target
        self.fixtures = fixtures

    def __call__(
        self,
        user: str | None = None,
        *,
        expired: bool = False,
        tampered: bool = False,
        expires_in: int | None = None,
        **claims: Any,
    ) -> str:
        if expired and expires_in is not None:
            raise ConfigError("mockauth_token: give expired=True or expires_in, not both")
        if self.auth is None:
            token = self._real_login(user, expired=expired, expires_in=expires_in, claims=claims)
        else:
            username = self._username(user)
            lifetime = -1 if expired else expires_in
            token = self.auth.issue_token(username, expires_in=lifetime, **claims)
        return tamper(token) if tampered else token

    def _username(self, user: str | None) -> str:
        assert self.auth is not None
        if user is None:
            first = next(iter(self.auth.users), None)
            if first is None:
                raise UnknownUserError("mockauth_token: the mock has no users")
            return first
        found = self.auth.find_user(user)
        if found is None:
            raise UnknownUserError(
                f"mockauth_token: no user {user!r} (users: {', '.join(self.auth.users) or 'none'})"
            )
        return found.username

    def _real_login(
        self, user: str | None, *, expired: bool, expires_in: int | None, claims: Mapping[str, Any]
    ) -> str:
        assert self.target is not None
        if expired or expires_in is not None or claims:
            what = "mockauth_token with expired, expires_in or claims"
            pytest.skip(skip_reason(what, self.target))
        users = load_fixtures(self.fixtures or default_fixtures_path()).users
        found = next((u for u in users if user is None or user in (u.username, u.email)), None)
        if found is None:
            raise UnknownUserError(f"mockauth_token: no fixture user {user!r}")
        form = urllib.parse.urlencode({"username": found.username, "password": found.password})
        request = urllib.request.Request(
            self.target + "/auth/login", data=form.encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            pytest.fail(
                f"mockauth_token: login as {found.username!r} at {self.target} failed: {error}",
                pytrace=False,
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            where = f"{self.target}/auth/login"
            pytest.fail(f"mockauth_token: {where} gave no access_token", pytrace=False)
        return token


def tamper(token: str) -> str:
    """The same JWT with its ``exp`` claim an hour later and the old signature kept."""
    try:
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise ConfigError("tamper: not a JWT (expected header.payload.signature)") from None
    claims["exp"] = int(claims.get("exp", 0)) + 3600
    changed = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{changed.decode().rstrip('=')}.{signature}"
