"""The token endpoint (RFC 6749 3.2): the client authenticates, then its grant answers.

Errors are RFC 6749 5.2's: ``invalid_request``, ``invalid_client`` (401 with a Basic
challenge), ``invalid_grant``, ``unauthorized_client``, ``unsupported_grant_type``,
``invalid_scope``. The mock's credential modes read as ``invalid_grant`` here.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..http import ApiError
from ..steps import read_body, token_answer
from ..wsgi import App, Call, Handler, Shape, Subject
from .client_auth import authenticate_client
from .common import required
from .errors import GRANT_REFUSALS, InvalidClient, InvalidGrant, UnauthorizedClient, UnsupportedGrantType
from .grants import Grant, authorization_code, client_credentials, password, refresh_token

GRANTS: dict[str, Grant] = {
    "authorization_code": authorization_code.grant,
    "refresh_token": refresh_token.grant,
    "password": password.grant,
    "client_credentials": client_credentials.grant,
}


def token(app: App, call: Call) -> Response:
    params = read_body(app, call)
    grant_type = required(params, "grant_type")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not one of {', '.join(GRANTS)}.")
    client = authenticate_client(app, call)
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"The client {client.client_id!r} may not use the {grant_type} grant.")
    return token_answer(grant(app, call, client))


def _subject(app: App, call: Call) -> str | None:
    """Whose tokens these are: the user named, or the owner of the code or refresh token."""
    params = read_body(app, call)
    grant_type = params.get("grant_type")
    if grant_type == "password":
        username = params.get("username")
        if isinstance(username, str):
            user = app.state.users.find(username)
            return user.username if user else username
    value = params.get({"authorization_code": "code", "refresh_token": "refresh_token"}.get(str(grant_type), ""))
    if not isinstance(value, str):
        return None
    if grant_type == "authorization_code":
        return app.state.grants.code_owner(value)
    return app.state.tokens.refresh_owner(value)


def shape(app: App, call: Call, error: ApiError) -> ApiError:
    """A refused credential, from a mode or the seed API's wording, is ``invalid_grant``;
    for client_credentials the credential is the client's, so ``invalid_client``."""
    if error.error not in GRANT_REFUSALS:
        return error
    if call.params.get("grant_type") == "client_credentials":
        return InvalidClient(error.description)
    return InvalidGrant(error.description, [h for h in error.headers if h[0].lower() != "www-authenticate"])


ROUTES: dict[str, Handler] = {"token": token}
SUBJECTS: dict[str, Subject] = {"token": _subject}
SHAPES: dict[str, Shape] = {"token": shape}
