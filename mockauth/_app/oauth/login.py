"""Signing in at the login page, and the session cookie that keeps the browser signed in.

``sign_in`` is the whole login step: it takes the submitted form and returns the user,
or raises the error the page shows. A second step (a one-time code, a new password for
an expired one) belongs here too: it would answer with its own page until the step is
done, and only then return the user.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..._fixtures import User
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
PAGE_ERRORS = frozenset({"invalid_credentials", "account_locked", "account_disabled"})


class SignInError(ApiError):
    """The form was not filled in enough to try: shown on the page."""


def one_click_allowed(app: App) -> bool:
    """One-click buttons sign in without a password: a power of the control API, so only
    where the control API is open (no admin token: loopback, by default)."""
    return app.admin_token is None


def sign_in(app: App, call: Call) -> User:
    """The user the submitted form signs in, or the ApiError the page shows."""
    params = call.params
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
    check_account(user)
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


def start_session(app: App, call: Call, response: Response, user: User) -> None:
    session_id = app.state.grants.new_session(user.username)
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=SESSION_LIFETIME, path=COOKIE_PATH,
        httponly=True, samesite="Lax", secure=call.request.scheme == "https",
    )


def end_session(app: App, call: Call, response: Response) -> None:
    session_id = call.request.cookies.get(SESSION_COOKIE)
    if session_id:
        app.state.grants.end_session(session_id)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax")
