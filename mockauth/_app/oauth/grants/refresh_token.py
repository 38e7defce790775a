"""The refresh token grant (RFC 6749 6): single use, rotated on every refresh; a reused
one is refused and revokes its whole family (OAuth 2.0 Security BCP 4.14), as at
``/auth/refresh``. The scope may narrow, never widen."""

from __future__ import annotations

from typing import Any

from ...._clients import Client
from ...._state.tokens import TokenError
from ...steps import check_account
from ...wsgi import App, Call
from ..common import optional, required, scope_list
from ..errors import InvalidGrant, InvalidScope
from ..issue import token_response


def grant(app: App, call: Call, client: Client) -> dict[str, Any]:
    params = call.params
    token = required(params, "refresh_token")
    requested = optional(params, "scope")
    tokens, grants = app.state.tokens, app.state.grants
    # Who it was issued to is checked before it is spent: another client's refresh token
    # is refused and stays usable by its own client.
    live = tokens.refresh_record(token)
    granted = grants.grant(live.family) if live is not None else None
    if live is not None and granted is None:
        raise InvalidGrant(
            "This refresh token has no OAuth grant: it was issued by /auth/login, or its grant was "
            "among the earliest to expire when the mock held as many grants as it may."
        )
    if granted is not None and granted.client_id != client.client_id:
        raise InvalidGrant("The refresh token was issued to another client.")
    try:
        username, family = tokens.rotate(token)  # reuse revokes the family, in any case
    except TokenError as error:
        raise InvalidGrant(error.description) from None
    if granted is None:
        raise InvalidGrant("The refresh token is invalid or has been revoked.")
    scopes = granted.scope.split()
    if requested is not None:
        narrower = scope_list(requested)
        widened = [scope for scope in narrower if scope not in scopes]
        if widened:
            raise InvalidScope(f"A refresh cannot add scopes the grant did not have: {' '.join(widened)}.")
        scopes = narrower
    user = app.state.users.all().get(username)
    if user is None:
        raise InvalidGrant("The user of this refresh token no longer exists.")
    check_account(user)
    return token_response(app, call, client, user, scopes=scopes, family=family, auth_time=granted.auth_time)
