"""OpenID Connect Core: the ID token (3.1.3.6), the claims each scope releases (5.4),
and the UserInfo endpoint (5.3), GET and POST."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Response

from ..._clients import Client
from ..._fixtures import RESERVED_CLAIMS, User
from ..._state.tokens import unverified_subject
from ..http import ApiError, bearer_token, json_response, www_authenticate
from ..steps import bearer_claims, read_body
from ..wsgi import App, Call, Handler, Shape, Subject
from .errors import InsufficientScope

# OpenID Connect Core 5.4: the standard claims each scope releases.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
STANDARD_CLAIMS = frozenset(claim for claims in SCOPE_CLAIMS.values() for claim in claims)
# Claims of the ID token itself, never taken from a user's own claims.
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash")
_NOT_USER_CLAIMS = RESERVED_CLAIMS | set(ID_TOKEN_CLAIMS) | {"scope", "client_id", "sid", "acr", "amr"}


def user_claims(user: User, scopes: Iterable[str]) -> dict[str, Any]:
    """What `scopes` release of a user: the standard claims of profile, email, address and
    phone that the user has, and with ``openid`` the user's own non-standard claims
    (roles, ...). ``preferred_username`` is the username unless the user sets one;
    ``email`` is the user's email, or the username when it is an email address."""
    own = {name: value for name, value in user.claims.items() if name not in _NOT_USER_CLAIMS}
    own.setdefault("preferred_username", user.username)
    email = user.email or (user.username if "@" in user.username else None)
    if email is not None:
        own.setdefault("email", email)
        own.setdefault("email_verified", True)
    scopes = list(scopes)
    released: dict[str, Any] = {}
    if "openid" in scopes:
        released.update({name: value for name, value in own.items() if name not in STANDARD_CLAIMS})
    for scope in scopes:
        released.update({name: own[name] for name in SCOPE_CLAIMS.get(scope, ()) if name in own})
    return released


def id_token(
    app: App,
    client: Client,
    user: User,
    *,
    issuer: str,
    scopes: Iterable[str],
    auth_time: float,
    nonce: str | None,
    access_token: str,
) -> str:
    now = int(app.state.clock.now())
    claims: dict[str, Any] = {
        **user_claims(user, scopes),
        "iss": issuer,
        "sub": user.username,
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + app.settings.access_token_lifetime,
        "auth_time": int(auth_time),
        "at_hash": half_hash(access_token),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return app.state.tokens.id_token(claims)


def half_hash(value: str) -> str:
    """OpenID Connect Core 3.1.3.6 ``at_hash``: the left half of the SHA-256 digest, base64url
    (every algorithm the mock signs with uses SHA-256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


# -- UserInfo ------------------------------------------------------------------------


def userinfo(app: App, call: Call) -> Response:
    claims = bearer_claims(app, call)
    scope = claims.get("scope")
    scopes = scope.split() if isinstance(scope, str) else []
    if "openid" not in scopes:
        raise InsufficientScope("The access token was not granted the openid scope.")
    user = app.state.users.all().get(claims["sub"])
    if user is None:
        description = "The user of this token no longer exists."
        raise ApiError(401, "invalid_token", description, [www_authenticate("invalid_token", description)])
    body = {"sub": user.username, **user_claims(user, scopes)}
    return json_response(body, 200, [("Cache-Control", "no-store")])


def userinfo_post(app: App, call: Call) -> Response:
    # OpenID Connect Core 5.3.1: POST too; the token comes in the header (RFC 6750 2.1),
    # the body is read only to refuse what cannot be read.
    read_body(app, call)
    return userinfo(app, call)


def _bearer_subject(app: App, call: Call) -> str | None:
    token = bearer_token(call.request)
    return unverified_subject(token) if token else None


def shape(app: App, call: Call, error: ApiError) -> ApiError:
    """RFC 6750 3.1: a refused token is ``invalid_token`` (an expired one too), with the
    challenge in ``WWW-Authenticate`` (a mode's 401 included)."""
    if error.status != 401:
        return error
    description = error.description
    headers: Mapping[str, str] = dict(error.headers)
    challenge = headers.get("WWW-Authenticate") or www_authenticate("invalid_token", description)[1]
    others = [(k, v) for k, v in error.headers if k.lower() != "www-authenticate"]
    return ApiError(401, "invalid_token", description, [*others, ("WWW-Authenticate", challenge)])


ROUTES: dict[str, Handler] = {"userinfo": userinfo, "userinfo_post": userinfo_post}
SUBJECTS: dict[str, Subject] = {"userinfo": _bearer_subject, "userinfo_post": _bearer_subject}
SHAPES: dict[str, Shape] = {"userinfo": shape, "userinfo_post": shape}
