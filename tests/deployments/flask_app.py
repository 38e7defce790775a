"""A real deployment written with Flask and Flask-JWT-Extended, done right: it honours
openapi.yaml for the operations it has, at its own paths.

JSON-only login at ``/api/login`` (a form is refused with 415), bcrypt hashes, refresh at
``/api/token/refresh`` (refresh tokens rotate; a reused one is refused), the user at
``/api/profile``, logout at ``/api/logout`` (revokes the token and its refresh chain),
``/api/health``. No JWKS or discovery document (HS256), and it does not serve its spec.
Errors are the spec's ``{"error", "error_description"}``; bearer refusals carry
``WWW-Authenticate``.

Served by gunicorn (``tests/deployments/__init__.py``). ``HASH_COST=fast`` swaps bcrypt's
production cost (about 100 ms of CPU a login) for the cheapest in tests.
"""

from __future__ import annotations

import os
import secrets
import threading
from datetime import timedelta
from typing import Any

import bcrypt
from flask import Flask, Response, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    decode_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
)
from jwt.exceptions import PyJWTError
from werkzeug.exceptions import HTTPException

USERNAME, PASSWORD = "ada@example.com", "correct horse battery staple"
ACCESS_LIFETIME = timedelta(minutes=15)
# bcrypt refuses passwords over 72 bytes; such a password can never be right.
BCRYPT_LIMIT = 72
ROUNDS = 4 if os.environ.get("HASH_COST") == "fast" else 11  # 11: about 110 ms of CPU

app = Flask(__name__)
app.config.update(
    JWT_SECRET_KEY="flask-deployment-signing-key-0123456789abcdef0123456789abcdef",
    JWT_ACCESS_TOKEN_EXPIRES=ACCESS_LIFETIME,
    JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=1),
    MAX_CONTENT_LENGTH=16 * 1024,
)
jwt = JWTManager(app)

USERS = {USERNAME: {"password_hash": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS)), "name": "Ada"}}
DUMMY_HASH = bcrypt.hashpw(b"dummy password", bcrypt.gensalt(ROUNDS))
revoked: set[str] = set()  # jti of used refresh tokens, and families logged out
revoked_lock = threading.Lock()


def error(status: int, code: str, description: str, *, bearer: bool = False) -> tuple[Response, int]:
    response = jsonify(error=code, error_description=description)
    if bearer:
        response.headers["WWW-Authenticate"] = f'Bearer error="{code}", error_description="{description}"'
    return response, status


def bearer_refusal(description: str) -> tuple[Response, int]:
    return error(401, "invalid_token", description, bearer=True)


jwt.unauthorized_loader(lambda reason: bearer_refusal("A bearer access token is required."))
jwt.invalid_token_loader(lambda reason: bearer_refusal("The access token is invalid."))
jwt.expired_token_loader(lambda header, claims: bearer_refusal("The access token has expired."))
jwt.revoked_token_loader(lambda header, claims: bearer_refusal("The access token was revoked."))


@jwt.token_in_blocklist_loader
def is_revoked(header: dict[str, Any], claims: dict[str, Any]) -> bool:
    return claims["jti"] in revoked or claims.get("family") in revoked


@app.errorhandler(HTTPException)
def http_error(exception: HTTPException) -> Response:
    response = exception.get_response()  # keeps Allow on a 405
    response.set_data(
        jsonify(error=(exception.name or "error").lower().replace(" ", "_"),
                error_description=exception.description or "").get_data()
    )
    response.content_type = "application/json"
    return response


def token_answer(username: str, family: str) -> Response:
    claims = {"family": family}
    response = jsonify(
        access_token=create_access_token(identity=username, additional_claims=claims),
        token_type="bearer",
        expires_in=int(ACCESS_LIFETIME.total_seconds()),
        refresh_token=create_refresh_token(identity=username, additional_claims=claims),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def json_body() -> dict[str, Any] | tuple[Response, int]:
    if not request.is_json:
        return error(415, "unsupported_media_type", "Send the body as application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "invalid_request", "The body must be a JSON object.")
    return body


def text_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


@app.post("/api/login")
def login() -> Any:
    body = json_body()
    if not isinstance(body, dict):
        return body
    username, password = text_field(body, "username"), text_field(body, "password")
    if username is None or password is None:
        return error(400, "invalid_request", "username and password are required strings.")
    user = USERS.get(username)
    candidate = password.encode("utf-8", "surrogatepass")
    hashed = user["password_hash"] if user else DUMMY_HASH
    matches = bcrypt.checkpw(candidate[:BCRYPT_LIMIT], hashed) and len(candidate) <= BCRYPT_LIMIT
    if user is None or not matches:
        return error(401, "invalid_credentials", "The username or password is incorrect.")
    return token_answer(username, secrets.token_hex(8))


@app.post("/api/token/refresh")
def refresh() -> Any:
    body = json_body()
    if not isinstance(body, dict):
        return body
    token = text_field(body, "refresh_token")
    if token is None:
        return error(400, "invalid_request", "refresh_token is a required string.")
    try:
        claims = decode_token(token)
    except PyJWTError:
        return error(401, "invalid_token", "The refresh token is invalid or expired.")
    with revoked_lock:
        if claims.get("type") != "refresh" or claims["jti"] in revoked or claims.get("family") in revoked:
            return error(401, "invalid_token", "The refresh token is invalid, used or revoked.")
        revoked.add(claims["jti"])
    return token_answer(claims["sub"], claims["family"])


@app.get("/api/profile")
@jwt_required()
def profile() -> Any:
    username = get_jwt_identity()
    return jsonify(sub=username, email=username, name=USERS[username]["name"])


@app.post("/api/logout")
@jwt_required()
def logout() -> Any:
    claims = get_jwt()
    with revoked_lock:
        revoked.update({claims["jti"], claims["family"]})
    return "", 204


@app.get("/api/health")
def health() -> Any:
    return jsonify(status="ok")


def expired_token() -> str:
    """An access token this deployment signed whose exp has passed, for --expired-token."""
    with app.app_context():
        return create_access_token(
            identity=USERNAME, additional_claims={"family": "expired"}, expires_delta=timedelta(minutes=-5)
        )
