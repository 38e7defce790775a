"""What every grant answers (RFC 6749 5.1): an access token, a refresh token when the
client may refresh, and an ID token when ``openid`` was granted."""

from __future__ import annotations

from typing import Any

from ..._clients import Client
from ..._fixtures import User
from ..steps import issuer_of
from ..wsgi import App, Call
from . import oidc


def token_response(
    app: App,
    call: Call,
    client: Client,
    user: User,
    *,
    scopes: list[str],
    family: str,
    auth_time: float,
    nonce: str | None = None,
    refresh: bool = True,
) -> dict[str, Any]:
    tokens = app.state.tokens
    issuer = issuer_of(app, call)
    scope = " ".join(scopes)
    access, lifetime = tokens.access_token(
        user, expires_in=-1 if expired(call) else None, family=family, issuer=issuer,
        claims={"client_id": client.client_id, "scope": scope},
    )
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}
    if refresh and "refresh_token" in client.grant_types:
        body["refresh_token"] = tokens.issue_refresh(user.username, family)
        app.state.grants.record_grant(
            family, client_id=client.client_id, username=user.username, scope=scope, auth_time=auth_time
        )
    if "openid" in scopes:
        body["id_token"] = oidc.id_token(
            app, client, user, issuer=issuer, scopes=scopes, auth_time=auth_time, nonce=nonce,
            access_token=access,
        )
    return body


def expired(call: Call) -> bool:
    """Whether the expired_token mode asks for tokens that are already expired."""
    failure = call.selection.failure
    return failure is not None and failure.mode.effect == "expire"
