"""A real OAuth 2.0 authorization server written with Authlib's Flask integration, as its
documentation builds one: the authorization code grant with PKCE (``CodeChallenge``),
the password grant, the refresh token grant (rotating: a new refresh token each time, the
old one revoked), HTTP Basic and form client authentication, and a login page of its
own.

``GET /oauth/authorize`` sends a visitor who is not signed in to ``/login`` (a form with a
CSRF token in a hidden field and a session cookie), then asks for consent ("Allow" or
"Deny", with a "remember" checkbox); ``POST /oauth/token`` is Authlib's token endpoint.
Tokens are Authlib's opaque bearer tokens (not JWTs). Passwords are bcrypt hashes,
``HASH_COST=fast`` for the cheapest in tests. No seed API (``/auth/*``): held to the OAuth
operations only.

As written, it departs from RFC 6749 in one place, and the contract runner says so: a
wrong password in the password grant gets Authlib's 400 ``invalid_request`` where RFC
6749 5.2 says ``invalid_grant`` (the resource owner credentials are the grant).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

import bcrypt
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, redirect, request, session

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain HTTP on loopback, as in tests

USERNAME, PASSWORD = "grace@example.com", "analytical engine 1843"
CLIENT_ID, CLIENT_SECRET = "ci-web", "ci-web-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:8000/callback"
ROUNDS = 4 if os.environ.get("HASH_COST") == "fast" else 11  # 11: about 110 ms of CPU

app = Flask(__name__)
app.secret_key = "authlib-deployment-session-key-0123456789abcdef"
app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True  # Authlib issues refresh tokens only when told
USERS = {USERNAME: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS))}
lock = threading.Lock()
AUTH_METHODS = ("client_secret_basic", "client_secret_post")  # HTTP Basic, or the secret in the form


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    grant_types: list[str]
    scope: str = "profile"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scope.split()
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return time.time() > self.auth_time + 300


@dataclass
class Token:
    client_id: str
    user: str
    scope: str
    access_token: str
    refresh_token: str | None
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope


CLIENTS = {CLIENT_ID: Client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI],
                             ["authorization_code", "password", "refresh_token"])}
CODES: dict[str, Code] = {}
TOKENS: dict[str, Token] = {}  # by refresh token


def check_password(username: str, password: str) -> str | None:
    hashed = USERS.get(username)
    candidate = password.encode()[:72]
    if hashed is None or not bcrypt.checkpw(candidate, hashed):
        return None
    return username


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def save_authorization_code(self, code: str, req: Any) -> None:
        data = req.payload.data
        with lock:
            CODES[code] = Code(code, req.client.client_id, req.payload.redirect_uri, req.payload.scope or "",
                               req.user, data.get("code_challenge"), data.get("code_challenge_method"))

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = CODES.get(code)
        return found if found and found.client_id == client.client_id and not found.is_expired() else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        with lock:
            CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> str:
        return authorization_code.user


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def authenticate_user(self, username: str, password: str) -> str | None:
        return check_password(username, password)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate, as RFC 9700 4.14.2 recommends

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token = TOKENS.get(refresh_token)
        return token if token is not None and not token.revoked else None

    def authenticate_user(self, credential: Token) -> str:
        return credential.user

    def revoke_old_credential(self, credential: Token) -> None:
        credential.revoked = True


def save_token(token: dict[str, Any], req: Any) -> None:
    with lock:
        if token.get("refresh_token"):
            TOKENS[token["refresh_token"]] = Token(req.client.client_id, req.user, token.get("scope", ""),
                                                   token["access_token"], token.get("refresh_token"))


server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
server.register_grant(PasswordGrant)
server.register_grant(RefreshTokenGrant)


def page(title: str, body: str, status: int = 200) -> Response:
    html = f"<!doctype html><html><head><title>{escape(title)}</title></head><body>{body}</body></html>"
    return Response(html, status, content_type="text/html; charset=utf-8")


def csrf_token() -> str:
    session.setdefault("csrf", secrets.token_urlsafe(16))
    return str(session["csrf"])


def csrf_ok() -> bool:
    return secrets.compare_digest(request.form.get("csrf", ""), session.get("csrf", "-"))


@app.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = request.values.get("next", "/")
    error = ""
    if request.method == "POST":
        user = check_password(request.form.get("email", ""), request.form.get("secret", "")) if csrf_ok() else None
        if user is not None and target.startswith("/"):
            session["user"] = user
            return redirect(target, 303)
        error = "<p role=alert>Wrong email or password.</p>"
    form = (
        f'<form method="post" action="/login">{error}'
        f'<input type="hidden" name="csrf" value="{escape(csrf_token())}">'
        f'<input type="hidden" name="next" value="{escape(target)}">'
        '<label>Email <input type="email" name="email" autocomplete="username"></label>'
        '<label>Password <input type="password" name="secret" autocomplete="current-password"></label>'
        '<button type="submit">Sign in</button></form>'
    )
    return page("Sign in", form, 401 if error else 200)


@app.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    user = session.get("user")
    if user is None:
        return redirect("/login?" + urlencode({"next": request.full_path}), 302)
    if request.method == "GET":
        try:
            grant = server.get_consent_grant(end_user=user)
        except Exception as error:  # Authlib's OAuth2Error: shown, not redirected (an unknown client, say)
            return page("Error", f"<p>{escape(str(error))}</p>", 400)
        form = (
            f'<form method="post" action="{escape(request.full_path)}">'
            f"<p>{escape(grant.client.client_id)} asks for: {escape(grant.request.payload.scope or 'your account')}</p>"
            f'<input type="hidden" name="csrf" value="{escape(csrf_token())}">'
            '<label><input type="checkbox" name="remember"> Remember this choice</label>'
            '<button type="submit" name="choice" value="allow">Allow</button>'
            '<button type="submit" name="choice" value="deny">Deny</button></form>'
        )
        return page("Allow access?", form)
    allowed = csrf_ok() and request.form.get("choice") == "allow"
    return server.create_authorization_response(grant_user=user if allowed else None)


@app.post("/oauth/token")
def token() -> Any:
    return server.create_token_response()
