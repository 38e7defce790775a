"""Client authentication at the token, introspection and revocation endpoints (RFC 6749
2.3): ``client_secret_basic`` (HTTP Basic), ``client_secret_post`` (form fields), and
``none`` for public clients, which only name themselves."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import unquote_plus

from ..._clients import Client
from ..wsgi import App, Call
from .common import optional
from .errors import InvalidClient, InvalidRequest

# One answer for an unknown client and a wrong secret, as for users.
_FAILED = "Client authentication failed (unknown client, or a wrong or missing secret)."


def authenticate_client(app: App, call: Call, *, public: bool = True) -> Client:
    """The client the request authenticates as, or InvalidClient (401). `public`: whether
    a public client (no secret) may call this endpoint."""
    params = call.params
    basic = _basic_credentials(call)
    client_id: str | None
    secret: str | None
    body_id, body_secret = optional(params, "client_id"), optional(params, "client_secret")
    if basic is not None:
        if body_secret is not None:
            raise InvalidRequest("The client authenticated twice (HTTP Basic and client_secret); use one method.")
        client_id, secret = basic
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("The client_id field names another client than the Authorization header.")
        call.params = {**params, "client_id": client_id}  # for the journal (never the secret)
    else:
        client_id, secret = body_id, body_secret
    if client_id is None:
        raise InvalidClient("The request names no client: send client_id, or authenticate with HTTP Basic.")
    client = app.state.clients.find(client_id)
    if client is None:
        raise InvalidClient(_FAILED)
    if client.public:
        if secret is not None:
            raise InvalidClient(f"The client {client_id!r} is public and has no secret; send client_id alone.")
        if not public:
            raise InvalidClient(f"This endpoint needs a confidential client; {client_id!r} is public.")
        return client
    assert client.client_secret is not None
    given = (secret or "").encode()
    # Digests of equal length: the comparison time says nothing about the secret.
    if secret is None or not hmac.compare_digest(
        hashlib.sha256(given).digest(), hashlib.sha256(client.client_secret.encode()).digest()
    ):
        raise InvalidClient(_FAILED)
    return client


def _basic_credentials(call: Call) -> tuple[str, str] | None:
    """(client_id, secret) of an ``Authorization: Basic`` header, form-decoded as RFC 6749
    2.3.1 asks; None without one. A malformed Basic header is a failed authentication."""
    header = call.request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The Authorization header is not valid Basic credentials.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("The Authorization header is not valid Basic credentials.")
    return unquote_plus(client_id), unquote_plus(secret)
