"""Steps the handlers share: reading the body, checking a password or a bearer token,
the issuer of a request, answering tokens or the next challenge of a login."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from werkzeug.sansio.utils import get_host
from werkzeug.wrappers import Response

from .._fixtures import User
from .._state.challenges import Challenge, ChallengeError
from .._state.tokens import TokenError
from .http import NO_STORE, ApiError, bearer_token, json_response, parse_body, www_authenticate
from .wsgi import App, Call

# Compared against when the username is unknown, so both answers take the same time.
_NO_SUCH_PASSWORD = b"mockauth: no such user, compared only to spend the same time"


def read_body(app: App, call: Call, *, form: bool = True, required: bool = False) -> dict[str, Any]:
    """The request body as a mapping (kept on the call for the journal); a `required`
    body may not be left out. Read once: a handler may ask again after the request's
    subject was found in it."""
    environ = call.request.environ
    if "mockauth.body" not in environ:
        environ["mockauth.body"] = parse_body(
            call.request, app.settings.max_body_size, form=form, required=required
        )
    call.params = dict(environ["mockauth.body"])
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
        return app.state.tokens.verify(token, accepts_issuer(app, call))
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


class DetailedError(ApiError):
    """An error answer with fields besides error and error_description (a challenge's
    token, the rule a password broke, the attempts left)."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        details: Mapping[str, Any],
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(status, error, description, headers)
        self.details = dict(details)

    def response(self) -> Response:
        body = {"error": self.error, "error_description": self.description, **self.details}
        return json_response(body, self.status, self.headers)


# The status of each refusal of a challenge step.
CHALLENGE_STATUS = {
    "invalid_request": 400,
    "weak_password": 400,
    "invalid_token": 401,
    "invalid_mfa_code": 401,
    "account_locked": 403,
}


def login_step(step: Callable[[], Challenge | User]) -> Challenge | User:
    """Run a challenge step of the state; its refusal becomes the API's error answer."""
    try:
        return step()
    except ChallengeError as error:
        raise DetailedError(
            CHALLENGE_STATUS[error.code], error.code, error.description, error.details
        ) from None


def signed_in(app: App, call: Call, outcome: Challenge | User) -> Response:
    """The answer to a login step: 403 with the next challenge, or the tokens."""
    if isinstance(outcome, Challenge):
        # The challenge's token is a credential, as an access token is: never cached.
        raise DetailedError(
            403, outcome.error, outcome.description, outcome.details(),
            [("Cache-Control", "no-store"), ("Pragma", "no-cache")],
        )
    check_account(outcome)
    expired = taken_effect(app, call, "expire")
    return token_answer(app.state.tokens.token_response(outcome, expired=expired, issuer=issuer_of(app, call)))


def taken_effect(app: App, call: Call, effect: str) -> bool:
    """Whether the request's failing mode has `effect` and takes it now. An arming with
    `times` that counts only when it takes effect (expired_token and the challenges on a
    login step) is counted here, when a token or a challenge is about to be issued; when
    another request took its last use, it does not apply."""
    selection = call.selection
    if selection.failure is None or selection.failure.mode.effect != effect:
        return False
    if selection.deferred is None:
        return True
    taken = app.state.modes.take(selection)
    call.selection = selection._replace(deferred=None, failure=selection.failure if taken else None)
    return taken


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
    environ = call.request.environ
    server = (environ.get("SERVER_NAME"), environ.get("SERVER_PORT"))
    return _base_url(environ["wsgi.url_scheme"], environ.get("HTTP_HOST"), server, environ.get("SCRIPT_NAME", ""))


@lru_cache(maxsize=256)  # the few URLs a mock is reached at, asked about on every login
def _base_url(scheme: str, host_header: str | None, server: tuple[str | None, str | None], script_name: str) -> str:
    # As request.host finds the host (the port left out where it is the scheme's own);
    # not request.url_root, which builds an IRI (IDNA decoding and all), a tenth of a login.
    name, port = server
    known_server = (name, int(port) if port and port.isdigit() else None) if name is not None else None
    return f"{scheme}://{get_host(scheme, host_header, known_server)}{script_name.rstrip('/')}"


def issuer_of(app: App, call: Call) -> str:
    """The ``iss`` of tokens issued to this request (see ``State.issuer``)."""
    return app.state.issuer(request_issuer(call))


def accepts_issuer(app: App, call: Call) -> Callable[[str], bool]:
    """Which ``iss`` values a token sent with this request may carry."""
    where = request_issuer(call)
    return lambda issuer: app.state.issuer_accepted(issuer, where)
