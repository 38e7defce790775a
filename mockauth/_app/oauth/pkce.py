"""Proof Key for Code Exchange (RFC 7636): the challenge the authorization request
carries and the verifier the token request proves it with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from ..._clients import Client
from .errors import InvalidGrant, InvalidRequest

# RFC 7636 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def check_challenge(client: Client, challenge: str | None, method: str | None) -> str | None:
    """The challenge method of an authorization request (None without PKCE), or
    InvalidRequest naming what is wrong."""
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method was sent without a code_challenge.")
        if client.pkce_required:
            raise InvalidRequest(f"The client {client.client_id!r} must use PKCE: send a code_challenge (RFC 7636).")
        return None
    method = method or "plain"  # RFC 7636 4.3: the default
    if method not in client.pkce_methods:
        allowed = ", ".join(client.pkce_methods)
        raise InvalidRequest(f"code_challenge_method {method!r} is not allowed for this client (allowed: {allowed}).")
    if not _VALUE.fullmatch(challenge):
        raise InvalidRequest("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 4.2).")
    return method


def verify(verifier: str | None, challenge: str | None, method: str | None) -> None:
    """Check a token request's code_verifier against the code's challenge (RFC 7636 4.6)."""
    if challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier was sent, but the authorization request had no code_challenge.")
        return
    if verifier is None:
        raise InvalidGrant("This code was issued with a code_challenge: send its code_verifier.")
    if not _VALUE.fullmatch(verifier):
        raise InvalidRequest("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 4.1).")
    expected = challenge.encode()
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=")
    else:
        computed = verifier.encode()
    if not hmac.compare_digest(computed, expected):
        raise InvalidGrant("The code_verifier does not match the code_challenge.")
