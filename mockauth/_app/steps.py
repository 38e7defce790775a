"""Steps the handlers share: reading the body, checking a bearer token, answering tokens."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from .._fixtures import User
from .._state.tokens import TokenError
from .http import NO_STORE, ApiError, bearer_token, json_response, parse_body, www_authenticate
from .wsgi import App, Call


def read_body(app: App, call: Call, *, form: bool = True, required: bool = False) -> dict[str, Any]:
    """The request body as a mapping (kept on the call for the journal); a `required`
    body may not be left out."""
    call.params = parse_body(call.request, app.settings.max_body_size, form=form, required=required)
    return call.params


def bearer_claims(app: App, call: Call) -> dict[str, Any]:
    """The claims of the request's valid bearer token, or the RFC 6750 401."""
    token = bearer_token(call.request)
    if token is None:
        # RFC 6750 3.1: no token (or another scheme, such as Basic) gets the challenge
        # alone, with no error code in it.
        raise ApiError(401, "invalid_token", "The request has no bearer token.", [www_authenticate()])
    if not token:
        description = "The Authorization header must be 'Bearer <token>', the token one b64token."
        raise ApiError(400, "invalid_request", description, [www_authenticate("invalid_request", description)])
    try:
        return app.state.tokens.verify(token)
    except TokenError as error:
        raise ApiError(
            401, error.code, error.description,
            [www_authenticate(error.code, error.description)],
        ) from None


def token_answer(body: dict[str, Any], status: int = 200) -> Response:
    return json_response(body, status, NO_STORE)


def check_account(user: User) -> None:
    if user.locked:
        raise ApiError(403, "account_locked", "The account is locked.")
    if user.disabled:
        raise ApiError(403, "account_disabled", "The account is disabled.")
