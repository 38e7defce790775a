"""The resource owner password credentials grant (RFC 6749 4.3): a wrong password, an
unknown user and a refused account are all ``invalid_grant``."""

from __future__ import annotations

from typing import Any

from ...._clients import Client
from ...._state.tokens import new_family
from ...http import ApiError
from ...steps import check_account, check_password
from ...wsgi import App, Call
from ..common import check_scope, optional, required
from ..errors import InvalidGrant
from ..issue import token_response


def grant(app: App, call: Call, client: Client) -> dict[str, Any]:
    params = call.params
    username, password = required(params, "username"), required(params, "password")
    scopes = check_scope(client, optional(params, "scope"))
    user = check_password(app, username, password)
    if user is None:
        raise InvalidGrant("The username or password is incorrect.")
    try:
        check_account(user)
    except ApiError as error:
        raise InvalidGrant(error.description) from None
    if user.mfa or user.password_expired:
        # The grant has no second step to ask for: such a user signs in at the login page.
        step = "a new password" if user.password_expired else "a one-time code"
        raise InvalidGrant(f"The account needs {step} first; sign in through the authorization endpoint.")
    return token_response(app, call, client, user, scopes=scopes, family=new_family(), auth_time=app.state.clock.now())
