"""The client credentials grant (RFC 6749 4.4): a token for the client itself, ``sub``
the client_id (RFC 9068 2.2), no refresh token (4.4.3) and no ID token (no user)."""

from __future__ import annotations

from typing import Any

from ...._clients import Client
from ...steps import issuer_of
from ...wsgi import App, Call
from ..common import check_scope, optional
from ..issue import expired

# OpenID Connect scopes, which release claims of a user: a client alone has none.
USER_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})


def default_scope(client: Client) -> str:
    """The scope of a client's own token when it asks for none: its scopes, less those
    that release claims of a user."""
    return " ".join(scope for scope in client.scopes if scope not in USER_SCOPES)


def grant(app: App, call: Call, client: Client) -> dict[str, Any]:
    requested = optional(call.params, "scope")
    scope = default_scope(client) if requested is None else " ".join(check_scope(client, requested))
    access, lifetime = app.state.tokens.client_token(
        client.client_id, scope=scope, expires_in=-1 if expired(call) else None, issuer=issuer_of(app, call)
    )
    return {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}
