"""Discovery: OpenID Connect Discovery 1.0 (``/.well-known/openid-configuration``) and
RFC 8414 (``/.well-known/oauth-authorization-server``), one document.

Everything in it is true of this mock as it runs: the endpoints are its own routes, the
grant types, PKCE methods, client authentication methods and scopes are those its
clients have, the claims those its users have.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Response

from ..._clients import GRANT_TYPES, PKCE_METHODS
from ..http import json_response
from ..steps import issuer_of
from ..wsgi import App, Call, Handler
from .authorize import PROMPTS
from .common import base_url
from .oidc import ID_TOKEN_CLAIMS, user_claims

_ENDPOINTS = {
    "authorization_endpoint": "authorize",
    "token_endpoint": "token",
    "userinfo_endpoint": "userinfo",
    "jwks_uri": "jwks",
    "end_session_endpoint": "end_session",
    "introspection_endpoint": "introspect",
    "revocation_endpoint": "revoke",
}
_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")


def metadata(app: App, call: Call) -> dict[str, Any]:
    base = base_url(app, call)
    paths = {op.operation_id: op.path for op in app.spec.operations}
    clients = list(app.state.clients.all().values())
    coding = [c for c in clients if "authorization_code" in c.grant_types]
    confidential = [c for c in clients if not c.public]
    document: dict[str, Any] = {"issuer": issuer_of(app, call)}
    document.update({name: base + paths[op] for name, op in _ENDPOINTS.items() if op in paths})
    document.update({
        "response_types_supported": ["code"] if coding else [],
        "response_modes_supported": ["query"],
        "grant_types_supported": _union(GRANT_TYPES, (c.grant_types for c in clients)),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [
            "RS256" if app.settings.algorithm == "HS256" else app.settings.algorithm
        ],
        "token_endpoint_auth_methods_supported": _union(_AUTH_METHODS, (c.auth_methods for c in clients)),
        "introspection_endpoint_auth_methods_supported": _union(
            _AUTH_METHODS, (c.auth_methods for c in confidential)
        ),
        "revocation_endpoint_auth_methods_supported": _union(_AUTH_METHODS, (c.auth_methods for c in clients)),
        "code_challenge_methods_supported": _union(PKCE_METHODS, (c.pkce_methods for c in coding)),
        "scopes_supported": _union((), (c.scopes for c in clients)),
        "claims_supported": _union(
            ID_TOKEN_CLAIMS,
            (user_claims(user, ["openid", "profile", "email", "address", "phone"])
             for user in app.state.users.all().values()),
        ),
        "prompt_values_supported": list(PROMPTS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    })
    return document


def _union(order: Iterable[str], groups: Iterable[Iterable[str]]) -> list[str]:
    """Every value the groups hold, those of `order` first and in its order."""
    seen = dict.fromkeys(value for group in groups for value in group)
    return [value for value in order if value in seen] + [value for value in seen if value not in order]


def openid_configuration(app: App, call: Call) -> Response:
    return json_response(metadata(app, call), 200, [("Cache-Control", "public, max-age=60")])


def oauth_authorization_server(app: App, call: Call) -> Response:
    return openid_configuration(app, call)


ROUTES: dict[str, Handler] = {
    "openid_configuration": openid_configuration,
    "oauth_authorization_server": oauth_authorization_server,
}
