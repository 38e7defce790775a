"""The authorization code grant (RFC 6749 4.1.3), with PKCE (RFC 7636 4.6).

A code is used once: a second use is refused and revokes every token issued from it
(RFC 6749 4.1.2), as is a code that has expired (60 s on the mock's clock).
"""

from __future__ import annotations

from typing import Any

from ...._clients import Client
from ...steps import check_account
from ...wsgi import App, Call
from .. import pkce
from ..common import optional, required
from ..errors import InvalidGrant
from ..issue import token_response


def grant(app: App, call: Call, client: Client) -> dict[str, Any]:
    params = call.params
    code = required(params, "code")
    redirect_uri = optional(params, "redirect_uri")
    verifier = optional(params, "code_verifier")
    outcome, record = app.state.grants.take_code(code)
    if outcome == "used" and record is not None:
        app.state.tokens.revoke_family(record.family)
        raise InvalidGrant("The authorization code was already used; the tokens issued with it are revoked.")
    if outcome == "expired":
        raise InvalidGrant("The authorization code has expired.")
    if outcome != "ok" or record is None:
        raise InvalidGrant("The authorization code is invalid.")
    if record.client_id != client.client_id:
        raise InvalidGrant("The authorization code was issued to another client.")
    if record.redirect_uri is not None and redirect_uri != record.redirect_uri:
        raise InvalidGrant("redirect_uri must be the one of the authorization request (RFC 6749 4.1.3).")
    pkce.verify(verifier, record.code_challenge, record.code_challenge_method)
    user = app.state.users.all().get(record.username)
    if user is None:
        raise InvalidGrant("The user of this authorization code no longer exists.")
    check_account(user)
    return token_response(
        app, call, client, user, scopes=record.scope.split(), family=record.family,
        auth_time=record.auth_time, nonce=record.nonce,
    )
