"""OAuth clients: the record a fixture file's ``clients:`` entries become, their checks,
and the redirect URIs a client may send the browser back to.

A client with a ``client_secret`` is confidential (it authenticates at the token
endpoint with ``client_secret_basic`` or ``client_secret_post``); one without is public
(``none``: it names itself with ``client_id`` and proves the code with PKCE).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError
from ._values import describe as _kind

GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials")
PKCE_METHODS = ("S256", "plain")
DEFAULT_SCOPES = ("openid", "profile", "email")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_FIELDS = (
    "client_id", "client_secret", "name", "redirect_uris", "post_logout_redirect_uris",
    "grant_types", "scopes", "require_pkce", "pkce_methods",
)
# RFC 6749 3.3: a scope token is printable ASCII without space, '"' or '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# Scopes as OAuth writes them in one string: tokens with single spaces between (RFC 6749 3.3).
_SCOPE_STRING = re.compile(r"(?:[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*)?")
# Printable ASCII but "/": a client is named by one segment of the control API's paths.
_CLIENT_ID = re.compile(r"[\x21-\x2e\x30-\x7e]+")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*")


@dataclass(frozen=True)
class Client:
    """An OAuth client the mock knows.

    ``redirect_uris`` may name a loopback host with the port ``*`` (``http://127.0.0.1:*``):
    any port is accepted there, as RFC 8252 7.3 asks for native apps and dev servers, and
    such an entry without a path accepts any path.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    name: str | None = None
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    require_pkce: bool | None = None  # None: required for public clients only
    pkce_methods: tuple[str, ...] = PKCE_METHODS

    def __post_init__(self) -> None:
        problem = _client_problem(vars(self))  # the fields, read only: no deep copy (asdict)
        if problem:
            raise ConfigError(f"client {self.client_id!r}: {problem}")

    @property
    def public(self) -> bool:
        return self.client_secret is None

    @property
    def pkce_required(self) -> bool:
        return self.public if self.require_pkce is None else self.require_pkce

    @property
    def auth_methods(self) -> tuple[str, ...]:
        return ("none",) if self.public else ("client_secret_basic", "client_secret_post")

    def redirect_allowed(self, uri: str) -> bool:
        return any(redirect_matches(registered, uri) for registered in self.redirect_uris)

    def logout_redirect_allowed(self, uri: str) -> bool:
        registered = (*self.post_logout_redirect_uris, *self.redirect_uris)
        return any(redirect_matches(entry, uri) for entry in registered)

    def describe(self, *, secret: bool = False) -> dict[str, Any]:
        """The client as the control API shows it (the secret only when asked for)."""
        values: dict[str, Any] = {
            "client_id": self.client_id,
            "name": self.name,
            "type": "public" if self.public else "confidential",
            "token_endpoint_auth_methods": list(self.auth_methods),
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "grant_types": list(self.grant_types),
            "scopes": list(self.scopes),
            "require_pkce": self.pkce_required,
            "pkce_methods": list(self.pkce_methods),
        }
        if secret:
            values["client_secret"] = self.client_secret
        return values

    def entry(self) -> dict[str, Any]:
        """The client as a fixture entry (what ``client_from_mapping`` reads back)."""
        values = {
            "client_id": self.client_id, "client_secret": self.client_secret, "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "grant_types": list(self.grant_types), "scopes": list(self.scopes),
            "require_pkce": self.require_pkce, "pkce_methods": list(self.pkce_methods),
        }
        return {key: value for key, value in values.items() if value is not None}


def client_from_mapping(entry: Any) -> Client:
    """Build a Client from a YAML or JSON mapping; ConfigError names the field."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"expected a mapping with client_id, got {_kind(entry)}")
    problem = _client_problem(entry)
    if problem:
        raise ConfigError(problem)
    values = dict(entry)
    if isinstance(values.get("scopes"), str):
        values["scopes"] = values["scopes"].split()
    for key in ("redirect_uris", "post_logout_redirect_uris", "grant_types", "scopes", "pkce_methods"):
        if key in values:
            values[key] = tuple(values[key])
    return Client(**values)


def _client_problem(entry: Mapping[str, Any]) -> str | None:
    """The first thing wrong with a client entry, as 'field: reason', or None."""
    for key in entry:
        if key not in _FIELDS:
            return f"{key}: unknown field (fields: {', '.join(_FIELDS)})"
    client_id = entry.get("client_id")
    if client_id is None:
        return "client_id: required"
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        return f"client_id: must be a non-empty string of printable ASCII without spaces or '/', got {_kind(client_id)}"
    for key in ("client_secret", "name"):
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            return f"{key}: must be a non-empty string, got {_kind(value)}"
    scopes = entry.get("scopes", DEFAULT_SCOPES)
    if isinstance(scopes, str):
        if not _SCOPE_STRING.fullmatch(scopes):
            return f"scopes: {scopes!r} is not scope tokens separated by single spaces (RFC 6749 3.3)"
        scopes = scopes.split()
    lists: dict[str, Any] = {
        "redirect_uris": entry.get("redirect_uris", ()),
        "post_logout_redirect_uris": entry.get("post_logout_redirect_uris", ()),
        "grant_types": entry.get("grant_types", ("authorization_code", "refresh_token")),
        "scopes": scopes,
        "pkce_methods": entry.get("pkce_methods", PKCE_METHODS),
    }
    for key, value in lists.items():
        if not isinstance(value, Sequence) or isinstance(value, str):
            return f"{key}: must be a list, got {_kind(value)}"
        for item in value:
            if not isinstance(item, str) or not item:
                return f"{key}: every entry must be a non-empty string, got {_kind(item)}"
    for key in ("redirect_uris", "post_logout_redirect_uris"):
        for uri in lists[key]:
            problem = _redirect_problem(uri)
            if problem:
                return f"{key}: {uri!r}: {problem}"
    for grant in lists["grant_types"]:
        if grant not in GRANT_TYPES:
            return f"grant_types: {grant!r} is not one of {', '.join(GRANT_TYPES)}"
    if not lists["grant_types"]:
        return "grant_types: must name at least one grant type"
    for scope in lists["scopes"]:
        if not _SCOPE_TOKEN.fullmatch(scope):
            return f"scopes: {scope!r} is not a scope token (printable ASCII, no spaces or quotes)"
    for method in lists["pkce_methods"]:
        if method not in PKCE_METHODS:
            return f"pkce_methods: {method!r} is not one of {', '.join(PKCE_METHODS)}"
    if not lists["pkce_methods"]:
        return "pkce_methods: must name at least one method"
    require_pkce = entry.get("require_pkce")
    if require_pkce is not None and not isinstance(require_pkce, bool):
        return f"require_pkce: must be true or false, got {_kind(require_pkce)}"
    public = entry.get("client_secret") is None
    if public and "client_credentials" in lists["grant_types"]:
        return "grant_types: client_credentials needs a client_secret (a public client has no credentials)"
    if "authorization_code" in lists["grant_types"] and not lists["redirect_uris"]:
        return "redirect_uris: the authorization_code grant needs at least one redirect URI"
    return None


# What a redirect URI may be, as one pattern that openapi.yaml repeats (tests/test_spec.py
# keeps them equal; no \s, which Python and JSON Schema's ECMA regexes read differently):
# absolute, no fragment (RFC 6749 3.1.2); http(s) with a host, where a loopback host may
# take any port with ':*' (RFC 8252 7.3); or a private-use scheme of a native app
# (com.example.app:/callback).
REDIRECT_URI = (
    r"^(?:https?://(?:127\.0\.0\.1|localhost|\[::1\]):\*(?:[/?][^#\x00-\x20\x7f]*)?"
    r"|https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::[0-9]{0,5})?(?:[/?][^#\x00-\x20\x7f]*)?"
    r"|(?![Hh][Tt][Tt][Pp][Ss]?:)[A-Za-z][A-Za-z0-9+.-]*:[^#\x00-\x20\x7f]+)$"
)
_REDIRECT_URI = re.compile(REDIRECT_URI)


def _redirect_problem(uri: str) -> str | None:
    if _REDIRECT_URI.fullmatch(uri):
        return None
    if "#" in uri:
        return "must not have a fragment (RFC 6749 3.1.2)"
    if ":*" in uri:
        return "the port '*' is only for loopback hosts (127.0.0.1, localhost, [::1]; RFC 8252 7.3)"
    return "must be an absolute URI without spaces: http(s) with a host, or a native app's own scheme (RFC 6749 3.1.2)"


_WILDCARD_PORT = re.compile(r"(?P<head>[^/?#]+://(?P<host>\[[^\]]*\]|[^/:?#]+)):\*(?P<tail>[/?].*)?")


def redirect_matches(registered: str, given: str) -> bool:
    """Whether `given` is allowed by the registered redirect URI `registered`.

    Exact string match (RFC 6749 3.1.2.3), except on loopback: a registered
    ``http://127.0.0.1:*`` or ``http://127.0.0.1/path`` (no port) accepts any port, and
    a ``:*`` entry without a path accepts any path (RFC 8252 7.3).
    """
    if registered == given:
        return True
    if "#" in given:
        return False
    wildcard = _WILDCARD_PORT.fullmatch(registered)
    reg = urlsplit(wildcard["head"] + (wildcard["tail"] or "") if wildcard else registered)
    if reg.hostname not in LOOPBACK_HOSTS or (not wildcard and reg.port is not None):
        return False
    got = urlsplit(given)
    try:
        got.port  # noqa: B018 - an out-of-range or non-numeric port raises here
    except ValueError:
        return False
    if got.scheme != reg.scheme or got.hostname != reg.hostname or got.username or got.password:
        return False
    if wildcard and not wildcard["tail"]:
        return True  # http://127.0.0.1:* : any port, any path
    return (got.path or "/", got.query) == (reg.path or "/", reg.query)
