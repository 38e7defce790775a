"""Token revocation (RFC 7009). A refresh token takes its whole family with it, an
access token its refresh tokens too (2.1 allows both). Unknown and already invalid
tokens get 200 all the same (2.2); a token issued to another client is refused."""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..._state.tokens import TokenError
from ..steps import accepts_issuer, read_body
from ..wsgi import App, Call, Handler
from .client_auth import authenticate_client
from .common import required
from .errors import InvalidGrant


def revoke(app: App, call: Call) -> Response:
    read_body(app, call)
    client = authenticate_client(app, call)
    token = required(call.params, "token")
    tokens = app.state.tokens
    record = tokens.refresh_record(token)
    if record is not None:
        granted = app.state.grants.grant(record.family)
        if granted is not None and granted.client_id != client.client_id:
            raise InvalidGrant("The token was issued to another client.")
        tokens.revoke_family(record.family)
        return _revoked()
    try:
        claims = tokens.verify(token, accepts_issuer(app, call))
    except TokenError:
        return _revoked()
    if claims.get("client_id", client.client_id) != client.client_id:
        raise InvalidGrant("The token was issued to another client.")
    tokens.revoke(claims)
    return _revoked()


def _revoked() -> Response:
    response = Response(status=200, headers=[("Cache-Control", "no-store")])
    del response.headers["Content-Type"]  # RFC 7009 2.2: the body is ignored; there is none
    return response


ROUTES: dict[str, Handler] = {"revoke": revoke}
