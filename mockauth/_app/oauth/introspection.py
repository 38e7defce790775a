"""Token introspection (RFC 7662): a confidential client asks whether a token is
active. Anything not active (unknown, expired, revoked, used, malformed) is
``{"active": false}`` and nothing more."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from ..._state.tokens import TokenError
from ..http import json_response
from ..steps import accepts_issuer, read_body
from ..wsgi import App, Call, Handler
from .client_auth import authenticate_client
from .common import optional, required


def introspect(app: App, call: Call) -> Response:
    read_body(app, call)
    authenticate_client(app, call, public=False)
    token = required(call.params, "token")
    checks = [_access, _refresh]
    if optional(call.params, "token_type_hint") == "refresh_token":
        checks.reverse()
    for check in checks:
        answer = check(app, call, token)
        if answer is not None:
            return json_response({"active": True, **answer}, 200, [("Cache-Control", "no-store")])
    return json_response({"active": False}, 200, [("Cache-Control", "no-store")])


def _access(app: App, call: Call, token: str) -> dict[str, Any] | None:
    try:
        claims = app.state.tokens.verify(token, accepts_issuer(app, call))
    except TokenError:
        return None
    answer: dict[str, Any] = {
        name: claims[name] for name in ("scope", "client_id", "sub", "exp", "iat", "nbf", "iss", "aud", "jti")
        if name in claims
    }
    if claims["sub"] in app.state.users.all():
        answer["username"] = claims["sub"]
    return {**answer, "token_type": "Bearer"}


def _refresh(app: App, call: Call, token: str) -> dict[str, Any] | None:
    record = app.state.tokens.refresh_record(token)
    if record is None:
        return None
    answer: dict[str, Any] = {
        "token_type": "refresh_token", "sub": record.username, "username": record.username,
        "exp": int(record.expires_at),
    }
    granted = app.state.grants.grant(record.family)
    if granted is not None:
        answer.update(client_id=granted.client_id, scope=granted.scope)
    return answer


ROUTES: dict[str, Handler] = {"introspect": introspect}
