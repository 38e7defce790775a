"""JWTs taken apart and put back together, without verifying anything: the runner holds
no keys, it only alters tokens and reads their claims."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from .._values import is_number


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(header, claims, signature) of a compact JWS, or None if it is not one."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header = json.loads(b64decode(pieces[0]))
        claims = json.loads(b64decode(pieces[1]))
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, pieces[2]


def encode_json(value: Mapping[str, Any]) -> str:
    return b64encode(json.dumps(value, separators=(",", ":")).encode())


def expired_token_problem(token: str) -> str | None:
    """Why `token` cannot stand for an expired token, or None: a JWT whose exp has passed.
    One that has not expired yet would make the target look wrong for accepting it."""
    parts = jwt_parts(token)
    if parts is None:
        return "not a JWT (three base64url parts: JSON header, JSON claims, signature)"
    exp = parts[1].get("exp")
    if not is_number(exp):
        return "the token has no numeric exp claim, so it never expires"
    left = exp - time.time()
    if left >= 0:
        return f"the token has not expired: its exp is {left:.0f} s from now; give one whose exp has passed"
    return None
