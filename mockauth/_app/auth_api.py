"""The auth API every deployment serves: login, refresh, me, logout, and the public
documents beside them (JWKS, health, the spec itself; discovery is in ``oauth``)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from .._state.tokens import TokenError, unverified_subject
from .._values import is_text
from .http import ApiError, bearer_token, json_response, required_strings, www_authenticate
from .steps import (
    bearer_claims,
    check_account,
    check_password,
    issuer_of,
    read_body,
    signed_in,
    taken_effect,
    token_answer,
)
from .wsgi import App, Call, Handler, Subject

# -- whose request is it (for per-user modes) -----------------------------------------


def _login_subject(app: App, call: Call) -> str | None:
    username = read_body(app, call).get("username")
    if not is_text(username):
        return None
    user = app.state.users.find(username)
    return user.username if user else username


def _refresh_subject(app: App, call: Call) -> str | None:
    token = read_body(app, call).get("refresh_token")
    return app.state.tokens.refresh_owner(token) if is_text(token) else None


def _bearer_subject(app: App, call: Call) -> str | None:
    token = bearer_token(call.request)
    return unverified_subject(token) if token else None


SUBJECTS: dict[str, Subject] = {
    "login": _login_subject,
    "refresh": _refresh_subject,
    "me": _bearer_subject,
    "logout": _bearer_subject,
}


# -- the operations ------------------------------------------------------------------


def login(app: App, call: Call) -> Response:
    username, password = required_strings(call.params, "username", "password")
    user = check_password(app, username, password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "The username or password is incorrect.")
    check_account(user)
    challenge = call.selection.failure if taken_effect(app, call, "challenge") else None
    return signed_in(app, call, app.state.challenges.start(user, challenge.mode.name if challenge else None))


def refresh(app: App, call: Call) -> Response:
    (token,) = required_strings(call.params, "refresh_token")
    # The account first: a locked account's refresh token stays unused, so the retry
    # after unlocking is a refresh, not a reuse that would revoke the family.
    owner = app.state.tokens.refresh_owner(token)
    user = app.state.users.all().get(owner) if owner is not None else None
    if user is not None:
        check_account(user)
    try:
        username, family = app.state.tokens.rotate(token)
    except TokenError as error:
        raise ApiError(401, error.code, error.description) from None
    user = app.state.users.all().get(username)
    if user is None:
        raise ApiError(401, "invalid_token", "The user of this refresh token no longer exists.")
    return token_answer(app.state.tokens.token_response(user, family=family, issuer=issuer_of(app, call)))


def me(app: App, call: Call) -> Response:
    claims = bearer_claims(app, call)
    user = app.state.users.all().get(claims["sub"])
    if user is None:
        description = "The user of this token no longer exists."
        raise ApiError(401, "invalid_token", description, [www_authenticate("invalid_token", description)])
    body: dict[str, Any] = {"sub": user.username}
    if user.email:
        body["email"] = user.email
    body.update(user.claims)
    return json_response(body, 200, [("Cache-Control", "no-store")])


def logout(app: App, call: Call) -> Response:
    claims = bearer_claims(app, call)
    app.state.tokens.revoke(claims)  # StoreFull past the cap: answered 503 (wsgi.App)
    return Response(status=204)


def jwks(app: App, call: Call) -> Response:
    return json_response(app.state.tokens.jwks(), 200, [("Cache-Control", "public, max-age=300")])


def health(app: App, call: Call) -> Response:
    return json_response({"status": "ok"})


def openapi(app: App, call: Call) -> Response:
    return Response(app.spec.text, 200, content_type="application/yaml; charset=utf-8")


ROUTES: dict[str, Handler] = {
    handler.__name__: handler
    for handler in [login, refresh, me, logout, jwks, health, openapi]
}
