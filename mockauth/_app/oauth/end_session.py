"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the browser's session at
the login page ends, then it goes back to the client's ``post_logout_redirect_uri``
(with ``state``) or sees a "signed out" page.

A ``post_logout_redirect_uri`` must be registered for the client, named by
``client_id`` or by the audience of ``id_token_hint``; an ID token this mock did not
sign, or a URI the client did not register, gets an error page and no redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

from ..http import ApiError
from ..steps import accepts_issuer, read_body
from ..wsgi import App, Call, Handler, Shape
from . import page
from .common import optional, query_params, with_params
from .errors import Answer
from .login import end_session as end_browser_session


def end_session(app: App, call: Call) -> Response:
    return _log_out(app, call, query_params(call))


def end_session_post(app: App, call: Call) -> Response:
    return _log_out(app, call, read_body(app, call, form=True))


def _log_out(app: App, call: Call, params: Mapping[str, Any]) -> Response:
    hint, client_id = optional(params, "id_token_hint"), optional(params, "client_id")
    redirect_uri, state = optional(params, "post_logout_redirect_uri"), optional(params, "state")
    if hint is not None:
        claims = app.state.tokens.verify_id_token(hint, accepts_issuer(app, call))
        if claims is None:
            raise _error(401, "The id_token_hint is not an ID token this server issued.")
        call.user = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        audience = claims.get("aud")
        hinted = audience[0] if isinstance(audience, list) and audience else audience
        if client_id is not None and hinted != client_id:
            raise _error(400, "The id_token_hint was issued to another client than client_id names.")
        client_id = hinted if isinstance(hinted, str) else client_id
    if redirect_uri is not None:
        client = app.state.clients.find(client_id) if client_id else None
        if client is None:
            raise _error(403, "A post_logout_redirect_uri needs its client: send client_id or id_token_hint.")
        if not client.logout_redirect_allowed(redirect_uri):
            raise _error(403, f"The post_logout_redirect_uri {redirect_uri!r} is not registered for {client_id!r}.")
        response = Response(status=302, headers=[
            ("Location", with_params(redirect_uri, {"state": state})), ("Cache-Control", "no-store"),
        ])
        del response.headers["Content-Type"]
    else:
        content = page.message_page("Signed out", "You are signed out.")
        response = page.page_response(content)
    end_browser_session(app, call, response)
    return response


def _error(status: int, description: str) -> Answer:
    content = page.message_page("Sign-out failed", description, error="invalid_request")
    return Answer(status, "invalid_request", description, page.page_response(content, status))


def shape(app: App, call: Call, error: ApiError) -> ApiError:
    """A browser is on the other end: every error is a page (a mode's too)."""
    if isinstance(error, Answer):
        return error
    content = page.message_page("Sign-out failed", error.description, error=error.error)
    answer = page.page_response(content, error.status, error.headers)
    return Answer(error.status, error.error, error.description, answer)


ROUTES: dict[str, Handler] = {"end_session": end_session, "end_session_post": end_session_post}
SHAPES: dict[str, Shape] = {"end_session": shape, "end_session_post": shape}
