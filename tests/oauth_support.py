"""Helpers for the OAuth tests: what a browser does on the login page, and PKCE pairs."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

# The bundled confidential client, and a redirect URI it has registered.
DEMO_REDIRECT = "http://127.0.0.1:5000/cb"
DEMO_BASIC = {"Authorization": "Basic " + base64.b64encode(b"demo-client:demo-secret").decode()}

_HIDDEN = re.compile(r'<input type=hidden name="([^"]*)" value="([^"]*)">')


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the login page's form (what the browser posts back)."""
    return {html.unescape(name): html.unescape(value) for name, value in _HIDDEN.findall(page)}


def click_user(session: requests.Session, authorization_url: str, username: str) -> str:
    """Open the login page and click a fixture user's one-click button, as a browser
    would; returns where the page sends the browser (the client's redirect URI)."""
    page = session.get(authorization_url, timeout=10)
    assert page.status_code == 200, page.text
    assert f'value="{html.escape(username)}"' in page.text
    form_action = urlsplit(authorization_url)._replace(query="").geturl()
    answer = session.post(
        form_action, data={**hidden_fields(page.text), "one_click": username}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["Location"])


def query_of(url: str) -> dict[str, Any]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
