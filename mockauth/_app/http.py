"""HTTP plumbing the app needs and Werkzeug does not give: JSON errors, bounded bodies,
strict form and JSON parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.http import parse_options_header
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_content_length

from .._values import DuplicateKey, is_text, parse_integer, parse_json

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 100
# RFC 6749 5.1: an answer that carries a token (or a password) is never cached.
NO_STORE = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


class ApiError(Exception):
    """An answer other than success: a status, an error code and a human sentence."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = list(headers)

    def response(self) -> Response:
        return json_response(
            {"error": self.error, "error_description": self.description},
            self.status,
            self.headers,
        )


def json_response(
    body: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    # Every header in one list: Werkzeug would otherwise set the type and the length
    # one by one, each a search of the list (together a twentieth of a login).
    return Response([data], status, [*headers, ("Content-Type", JSON), ("Content-Length", str(len(data)))])


def bad_request(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description)


def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 past `limit` bytes.

    Werkzeug's dev server would silently cut a chunked body at ``max_content_length``,
    so a body without Content-Length is read here up to one byte past the limit. A body
    that ends before its Content-Length (the client went away mid-body) is refused
    rather than parsed half-read, and a client silent for longer than the server's
    read timeout gets 408; both close the connection.
    """
    # From the environ, as request.content_length reads it, without building the
    # request's header view first (a twentieth of a login).
    length = get_content_length(request.environ)
    stream = request.environ["wsgi.input"]
    try:
        if length is not None:
            if length > limit:
                raise _too_large(limit)
            data = stream.read(length) if length else b""
            if len(data) < length:
                raise _truncated(f"The body ended after {len(data)} of its {length} bytes.")
            return data
        if not request.environ.get("wsgi.input_terminated"):
            return b""
        chunks, size = [], 0
        while size <= limit:
            chunk = stream.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except TimeoutError:
        raise ApiError(
            408, "request_timeout", "The request body did not arrive in time.",
            [("Connection", "close")],
        ) from None
    except OSError as error:  # a malformed chunk, or the client reset the connection
        raise _truncated(f"The body could not be read: {error}.") from None
    if size > limit:
        raise _too_large(limit)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    description = f"The request body is larger than {limit} bytes."
    return ApiError(413, "request_too_large", description, [("Connection", "close")])


def _truncated(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description, [("Connection", "close")])


def parse_body(request: Request, limit: int, *, form: bool = True, required: bool = False) -> dict[str, Any]:
    """The body as a mapping: form-urlencoded (when `form`) or a JSON object; no body
    at all is an empty mapping, or 400 when the body is `required`."""
    body = read_body(request, limit)
    content_type = request.environ.get("CONTENT_TYPE", "")
    # The few types clients send are remembered; a long header (any client may send
    # one) is parsed afresh, so that the cache holds 64 short strings at most.
    mimetype = _remembered_mimetype(content_type) if len(content_type) <= 200 else _mimetype(content_type)
    if not mimetype and not body:
        if required:
            raise bad_request(f"The request needs a {'JSON ' if not form else ''}body.")
        return {}
    if mimetype == JSON or mimetype.endswith("+json"):
        return _parse_json(body)
    if form and mimetype == FORM:
        return _parse_form(body)
    accepted = f"{FORM} or {JSON}" if form else JSON
    raise ApiError(
        415, "unsupported_media_type",
        f"The body must be {accepted}, not {mimetype or 'untyped'}.",
    )


def _mimetype(content_type: str) -> str:
    """The media type of a Content-Type header, lowercased, as ``request.mimetype``."""
    return parse_options_header(content_type)[0].lower()


_remembered_mimetype = lru_cache(maxsize=64)(_mimetype)


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise bad_request("The form body is not valid UTF-8.") from None
    except ValueError:
        raise bad_request(f"The form body has more than {MAX_FIELDS} fields.") from None
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            # Refused only when a field the operation reads is repeated (RFC 6749 3.2):
            # unknown fields are ignored, repeated or not.
            previous = fields[key]
            fields[key] = Repeated([*previous, value] if isinstance(previous, Repeated) else [previous, value])
        else:
            fields[key] = value
    return fields


class Repeated(list[str]):
    """The values of a form field that appeared more than once."""


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        value = parse_json(body)
    except UnicodeDecodeError:
        raise bad_request("The JSON body is not valid UTF-8.") from None
    except DuplicateKey as error:
        raise bad_request(f"In the JSON body, {error}.") from None
    except ValueError as error:
        raise bad_request(f"The body is not valid JSON: {error}.") from None
    if not isinstance(value, dict):
        raise bad_request("The JSON body must be an object.")
    return value


def required_strings(params: Mapping[str, Any], *names: str) -> list[str]:
    """The named fields, each a non-empty string, or 400 naming the first that is not."""
    values = []
    for name in names:
        value = params.get(name)
        if value is None:
            raise bad_request(f"The field {name!r} is required.")
        if isinstance(value, Repeated):
            raise bad_request(f"The field {name!r} appears more than once.")
        if not isinstance(value, str):
            raise bad_request(f"The field {name!r} must be a string.")
        if not value:
            raise bad_request(f"The field {name!r} must not be empty.")
        if not is_text(value):
            raise bad_request(f"The field {name!r} is not valid Unicode text (it holds a lone surrogate).")
        values.append(value)
    return values


# RFC 6750 2.1: credentials = "Bearer" 1*SP b64token
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None when the request carries
    none (no header, or another scheme such as Basic); '' when the Bearer header is
    malformed (no token, or one that is not a b64token)."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token if _B64TOKEN.fullmatch(token) else ""


def www_authenticate(error: str | None = None, description: str | None = None) -> tuple[str, str]:
    """RFC 6750 section 3: no error attribute when the request carried no token; the
    error is invalid_request (400) or invalid_token (401: an expired token is an
    invalid_token there; RFC 6750 has no other code for it)."""
    value = 'Bearer realm="mockauth"'
    if error:
        code = "invalid_request" if error == "invalid_request" else "invalid_token"
        value += f', error="{code}"'
        if description:
            value += ', error_description="' + description.replace('"', "'").replace("\\", "/") + '"'
    return ("WWW-Authenticate", value)


def query_integer(request: Request, name: str) -> int | None:
    """A whole-number query parameter (ASCII digits, 64 bits), None when absent, 400
    otherwise."""
    text = request.args.get(name)
    if text is None:
        return None
    try:
        return parse_integer(text)
    except ValueError:
        raise bad_request(f"The query parameter {name!r} must be a whole number.") from None


def base_url(request: Request) -> str:
    """The URL the client reached the app's root by, with a trailing slash: its Host
    (checked on the way in) or the server's name, and the path it is mounted under."""
    environ = request.environ
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{request.script_root}/"
