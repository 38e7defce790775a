"""Steps the handlers share: reading the body, checking a password or a bearer token,
the issuer of a request, answering tokens."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Response

from .._fixtures import User
from .._state.tokens import TokenError
from .http import ApiError, bearer_token, json_response, parse_body, www_authenticate
from .wsgi import App, Call

# Compared against when the username is unknown, so both answers take the same time.
_NO_SUCH_PASSWORD = b"mockauth: no such user, compared only to spend the same time"


def read_body(app: App, call: Call, *, form: bool = True) -> dict[str, Any]:
    """The request body as a mapping (kept on the call for the journal). Read once: a
    handler may ask again after the request's subject was found in it."""
    environ = call.request.environ
    if "mockauth.body" not in environ:
        environ["mockauth.body"] = parse_body(call.request, app.settings.max_body_size, form=form)
    call.params = dict(environ["mockauth.body"])
    return call.params


def bearer_claims(app: App, call: Call) -> dict[str, Any]:
    """The claims of the request's valid bearer token, or the RFC 6750 401."""
    token = bearer_token(call.request)
    if token is None:
        raise ApiError(401, "invalid_token", "The request has no bearer token.", [www_authenticate()])
    if not token:
        description = "The Authorization header must be 'Bearer <token>'."
        raise ApiError(401, "invalid_token", description, [www_authenticate("invalid_token", description)])
    try:
        return app.state.tokens.verify(token, accepts_issuer(app, call))
    except TokenError as error:
        raise ApiError(
            401, error.code, error.description,
            [www_authenticate(error.code, error.description)],
        ) from None


def token_answer(body: dict[str, Any]) -> Response:
    return json_response(body, 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")])


def check_account(user: User) -> None:
    if user.locked:
        raise ApiError(403, "account_locked", "The account is locked.")
    if user.disabled:
        raise ApiError(403, "account_disabled", "The account is disabled.")


def check_password(app: App, username: str, password: str) -> User | None:
    """The user with this username (or email) and password, or None."""
    user = app.state.users.find(username)
    expected = user.password.encode() if user else _NO_SUCH_PASSWORD
    # Digests of equal length, so the comparison time says nothing about the password's
    # length or its first wrong byte; an unknown user costs the same comparison.
    matches = hmac.compare_digest(
        hashlib.sha256(password.encode()).digest(), hashlib.sha256(expected).digest()
    )
    return user if user is not None and matches else None


def request_issuer(call: Call) -> str:
    """The URL this request reached the mock at (``http://127.0.0.1:8765``)."""
    request = call.request
    # Not request.url_root: it builds an IRI (IDNA decoding and all), a tenth of a login.
    return f"{request.scheme}://{request.host}{request.environ.get('SCRIPT_NAME', '').rstrip('/')}"


def issuer_of(app: App, call: Call) -> str:
    """The ``iss`` of tokens issued to this request (see ``State.issuer``)."""
    return app.state.issuer(request_issuer(call))


def accepts_issuer(app: App, call: Call) -> Callable[[str], bool]:
    """Which ``iss`` values a token sent with this request may carry."""
    where = request_issuer(call)
    return lambda issuer: app.state.issuer_accepted(issuer, where)
