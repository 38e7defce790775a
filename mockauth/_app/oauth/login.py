"""Signing in at the login page, and the session cookie that keeps the browser signed in.

``sign_in`` is the whole login: it takes the submitted form (a password, a one-click
user, or the answer to a challenge) and returns the user signed in, the next
``Challenge`` (a one-time code, or a new password for an expired one, from
``State.challenges``) for the page to ask, or raises the error the page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Response

from ..._fixtures import User
from ..._state.challenges import Challenge, ChallengeError
from ..._state.grants import SESSION_LIFETIME
from ..._state.stores.grants import SessionRecord
from ..http import ApiError
from ..steps import check_account, check_password
from ..wsgi import App, Call
from .common import optional

SESSION_COOKIE = "mockauth_session"
COOKIE_PATH = "/oauth"
# Errors the login page shows on itself (the browser stays on the form), rather than
# sending to the client: wrong credentials and refused accounts, from a request or a mode.
PAGE_ERRORS = frozenset({"invalid_credentials", "account_locked", "account_disabled", "invalid_mfa_code"})


class SignInError(ApiError):
    """The form was not filled in enough to try: shown on the page."""


class StepRefused(ApiError):
    """A challenge's answer was refused (a wrong code, a weak password): the same step is
    asked again, with this error on the page."""

    def __init__(self, error: ChallengeError, challenge: Challenge) -> None:
        status = 400 if error.code == "weak_password" else 401
        super().__init__(status, error.code, error.description)
        self.challenge = challenge


def one_click_allowed(app: App) -> bool:
    """One-click buttons sign in without a password: a power of the control API, so only
    where the control API is open (no admin token: loopback, by default)."""
    return app.admin_token is None


def sign_in(app: App, call: Call, challenge_mode: str | None = None) -> User | Challenge:
    """The user the submitted form signs in, the next challenge to ask, or the ApiError
    the page shows. `challenge_mode` is a challenge mode applied to this request."""
    params = call.params
    challenges = app.state.challenges
    for kind, token_field, answer_field, answer in (
        ("mfa", "mfa_token", "code", challenges.verify_code),
        ("password", "change_token", "new_password", challenges.change_password),
    ):
        token = optional(params, token_field)
        if token is not None:
            return _answer(app, kind, token, optional(params, answer_field) or "", answer)
    user = _first_step(app, params)
    check_account(user)
    outcome = challenges.start(user, challenge_mode)
    return outcome


def _answer(
    app: App, kind: str, token: str, value: str, answer: Callable[[str, str], Challenge | User]
) -> User | Challenge:
    """A challenge step answered on the page."""
    try:
        outcome = answer(token, value)
    except ChallengeError as error:
        if error.code in ("invalid_mfa_code", "weak_password"):  # the same step, asked again
            raise StepRefused(error, _same_step(app, kind, token)) from None
        status = 403 if error.code == "account_locked" else 401
        raise ApiError(status, error.code if error.code == "account_locked" else "invalid_credentials",
                       f"{error.description} Sign in again.") from None
    if isinstance(outcome, User):
        check_account(outcome)
    return outcome


def _same_step(app: App, kind: str, token: str) -> Challenge:
    username = app.state.challenges.owner(token) or ""
    return Challenge(kind, token, username, app.settings.challenge_lifetime, app.settings.password_policy)


def _first_step(app: App, params: Mapping[str, Any]) -> User:
    """The password (or one-click) step."""
    chosen = optional(params, "one_click")
    if chosen is not None:
        if not one_click_allowed(app):
            raise SignInError(403, "invalid_request", "One-click sign-in is off on this server; enter a password.")
        user = app.state.users.all().get(chosen)
        if user is None:
            raise ApiError(401, "invalid_credentials", "The username or password is incorrect.")
    else:
        username, password = optional(params, "username"), optional(params, "password")
        if username is None or password is None:
            raise SignInError(401, "invalid_request", "Enter a username and a password.")
        found = check_password(app, username, password)
        if found is None:
            raise ApiError(401, "invalid_credentials", "The username or password is incorrect.")
        user = found
    return user


def current_session(app: App, call: Call) -> tuple[User, SessionRecord] | None:
    """The signed-in user of the browser's session, if it is live and the account usable."""
    session_id = call.request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    record = app.state.grants.session(session_id)
    if record is None:
        return None
    user = app.state.users.all().get(record.username)
    if user is None or user.locked or user.disabled:
        return None
    return user, record


def start_session(app: App, call: Call, user: User) -> Callable[[Response], None]:
    """A session for the user who just signed in; what puts its cookie on the answer."""
    session_id = app.state.grants.new_session(user.username)
    return lambda response: response.set_cookie(
        SESSION_COOKIE, session_id, max_age=SESSION_LIFETIME, path=COOKIE_PATH,
        httponly=True, samesite="Lax", secure=call.request.scheme == "https",
    )


def end_session(app: App, call: Call, response: Response) -> None:
    session_id = call.request.cookies.get(SESSION_COOKIE)
    if session_id:
        app.state.grants.end_session(session_id)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax")
