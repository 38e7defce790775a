"""What the OAuth endpoints share: their base URL, single-valued parameters, scopes,
redirect URIs with parameters added."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..._clients import Client
from ..http import Repeated, _parse_form
from ..steps import request_issuer
from ..wsgi import App, Call
from .errors import InvalidRequest, InvalidScope


def base_url(app: App, call: Call) -> str:
    """Where clients reach the mock: ``public_url``, or the URL of this request."""
    return app.settings.public_url or request_issuer(call)


def query_params(call: Call) -> dict[str, Any]:
    """The query string as a mapping, a repeated parameter kept as such (RFC 6749 3.1
    forbids them), stored on the call for the journal."""
    call.params = _parse_form(call.request.query_string)
    return call.params


def optional(params: Mapping[str, Any], name: str) -> str | None:
    """A parameter that may be absent; an empty one counts as absent (RFC 6749 3.1)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, Repeated):
        raise InvalidRequest(f"The parameter {name!r} appears more than once.")
    if not isinstance(value, str):
        raise InvalidRequest(f"The parameter {name!r} must be a string.")
    return value


def required(params: Mapping[str, Any], name: str) -> str:
    value = optional(params, name)
    if value is None:
        raise InvalidRequest(f"The parameter {name!r} is required.")
    return value


def scope_list(text: str | None) -> list[str]:
    """A space-separated scope as a list, in its order, each once."""
    return list(dict.fromkeys((text or "").split()))


def check_scope(client: Client, requested: str | None) -> list[str]:
    """The scope granted for a request: the requested one if the client may have all of
    it, the client's own scopes when none is asked for (RFC 6749 3.3)."""
    if requested is None:
        return list(client.scopes)
    scopes = scope_list(requested)
    refused = [scope for scope in scopes if scope not in client.scopes]
    if refused:
        raise InvalidScope(
            f"The client {client.client_id!r} may not ask for {' '.join(refused)!r} "
            f"(its scopes: {' '.join(client.scopes) or 'none'})."
        )
    return scopes


def with_params(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` added to its query (those it had kept, RFC 6749 3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))
