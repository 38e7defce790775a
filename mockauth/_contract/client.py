"""A bare HTTP client (standard library) for our own checks, the record of each request it
sent, and how any request is shown in a report: what went out, what came back, and a curl
line that sends it again with each secret read from its environment variable
(``$MOCKAUTH_CONTRACT_PASSWORD``, ``$MOCKAUTH_CONTRACT_CLIENT_SECRET``, ...)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from .results import PASSWORD_VARIABLE, clip

# Stands for a secret in a body until it is shown (the variable's name between the
# markers); no real body contains it.
_MARK = "\x00"
# The fields that may carry a secret: masked by field, only when they hold one, so a
# value that merely contains a secret (the spec's example "secretpassword" when the
# password is "secret") is shown and sent as it was.
_SECRET_FIELDS = frozenset({"password", "new_password", "client_secret"})
_NOT_IN_CURL = frozenset(
    {"user-agent", "content-length", "host", "accept-encoding", "connection", "x-schemathesis-testcaseid"}
)
_SHOWN_SENT = ("authorization", "content-type", "cookie")
_SHOWN_GOT = ("content-type", "cache-control", "www-authenticate", "pragma", "location", "allow")

# What the callers hand over: each secret -> the variable that holds it, or the password alone.
Secrets = Mapping[str, str] | str | None


def _secret_map(secrets: Secrets) -> Mapping[str, str]:
    if isinstance(secrets, str):
        return {secrets: PASSWORD_VARIABLE} if secrets else {}
    return secrets or {}


@dataclass(frozen=True)
class Exchange:
    """One request an auth check sent and the answer (``status`` None: no answer)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    operation: str = ""
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""
    error: str | None = None
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        for key, value in self.response_headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    def field(self, name: str) -> Any:
        body = self.json()
        return body.get(name) if isinstance(body, dict) else None

    def answer(self) -> str:
        """The answer in a few words, for reasons: 'HTTP 401 invalid_credentials'."""
        if self.status is None:
            return f"no answer ({self.error})"
        error = self.field("error")
        return f"HTTP {self.status}" + (f" {error}" if isinstance(error, str) else "")

    def curl(self, secrets: Secrets = None) -> str:
        return curl_line(self.method, self.url, self.request_headers, self.body, secrets)

    def describe(self, secrets: Secrets = None) -> str:
        """What was sent and what came back, as a person reads it."""
        if self.status is None:
            got = [f"  got:      no answer: {self.error}"]
        else:
            got = shown_answer(self.status, self.response_headers, self.response_body)
        return "\n".join(
            [*shown_request(self.method, self.url, self.request_headers, self.body, secrets), *got,
             f"  curl:     {self.curl(secrets)}"]
        )


def shown_request(
    method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, secrets: Secrets
) -> list[str]:
    lines = [f"  sent:     {method} {url}"]
    headers = list(headers)
    known = _secret_map(secrets)
    for key, value in headers:
        if key.lower() in _SHOWN_SENT or _custom(key):
            basic = _basic(value, known) if key.lower() == "authorization" else None
            shown = f"Basic base64({basic[0]}:${basic[1]})" if basic else value
            lines.append(f"            {key}: {shown}")
    if body:
        kind, data = _masked(body, _content_type(headers), known)
        text = urlencode(data, safe="$@\x00") if kind == "form" else str(data)
        lines.append("            " + clip(_unmark(text, lambda variable: f"${variable}")))
    return lines


def shown_answer(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> list[str]:
    lines = [f"  got:      HTTP {status}"]
    lines += [f"            {k}: {v}" for k, v in headers if k.lower() in _SHOWN_GOT]
    if body:
        lines.append("            " + clip(body.decode("utf-8", "replace")))
    return lines


def _custom(name: str) -> bool:
    """A header the user or the check chose (an API key, say), not one every client sends."""
    return name.lower() not in _NOT_IN_CURL and not name.lower().startswith(("accept", "user-"))


def curl_line(
    method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, secrets: Secrets
) -> str:
    """A shell line that sends the same request. A field that holds a secret reads its
    environment variable instead (``$MOCKAUTH_CONTRACT_PASSWORD``, ...): masked by field,
    so a value that merely contains a secret is sent as it was. HTTP Basic client
    credentials holding a secret become ``-u 'id:'"$VARIABLE"``."""
    headers = list(headers)
    known = _secret_map(secrets)
    kind, data = _masked(body, _content_type(headers), known) if body else ("none", [])
    parts = ["curl -i -X", method, _quote(url)]
    for key, value in headers:
        if key.lower() in _NOT_IN_CURL or (kind == "form" and key.lower() == "content-type"):
            continue  # --data-urlencode sets the form's Content-Type itself
        basic = _basic(value, known) if key.lower() == "authorization" else None
        if basic:
            parts += ["-u", _quote(f"{basic[0]}:") + f'"${basic[1]}"']
        else:
            parts += ["-H", _quote(f"{key}: {value}")]
    if kind == "form":
        for key, value in data:
            parts += ["--data-urlencode", _shell_word(f"{key}={value}")]
    elif kind != "none":
        parts += ["--data-binary", _shell_word(str(data))]
    return " ".join(parts)


def _unmark(text: str, shown: Callable[[str], str]) -> str:
    """`text` with each marked secret replaced by shown(its variable)."""
    pieces = text.split(_MARK)
    return "".join(shown(piece) if index % 2 else piece for index, piece in enumerate(pieces))


def _shell_word(text: str) -> str:
    """`text` as one shell word: quoted, each marked secret read from its variable."""
    pieces = text.split(_MARK)
    return "".join(f'"${piece}"' if index % 2 else _quote(piece) for index, piece in enumerate(pieces) if piece)


def _basic(value: str, known: Mapping[str, str]) -> tuple[str, str] | None:
    """(client_id, variable) of ``Basic`` credentials whose secret is one of `known`."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic" or not known:
        return None
    try:
        client_id, colon, secret = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    variable = known.get(unquote_plus(secret)) if colon else None
    return (unquote_plus(client_id), variable) if variable else None


def _content_type(headers: Iterable[tuple[str, str]]) -> str:
    for key, value in headers:
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _masked(body: bytes, content_type: str, known: Mapping[str, str]) -> tuple[str, Any]:
    """The body as ("form", pairs), ("json", text) or ("raw", text), with the value of each
    secret-bearing field that holds a known secret replaced by a marked variable name."""
    text = body.decode("utf-8", "replace")

    def mark(key: str, value: Any) -> Any:
        hidden = known.get(value) if key in _SECRET_FIELDS and isinstance(value, str) else None
        return f"{_MARK}{hidden}{_MARK}" if hidden else value

    if content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        if urlencode(pairs) == text:  # a body that reads back as sent; else show it raw
            return "form", [(k, mark(k, v)) for k, v in pairs]
    elif content_type.endswith("json"):
        try:
            value = json.loads(text)
        except ValueError:
            return "raw", text
        if isinstance(value, dict) and any(mark(k, v) is not v for k, v in value.items()):
            marked = {k: mark(k, v) for k, v in value.items()}
            return "json", json.dumps(marked, ensure_ascii=False).replace("\\u0000", _MARK)
    return "raw", text


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class Client:
    """A bare HTTP client (standard library): the auth checks need exact control over
    headers and bodies, and must run without the ``contract`` extra."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def send(
        self,
        method: str,
        path: str,
        *,
        operation: str = "",
        form: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        """Send a request to `path`, below the base URL."""
        return self.fetch(method, self.prefix + path, operation=operation, form=form, json_body=json_body,
                          headers=headers)

    def fetch(
        self,
        method: str,
        target: str,
        *,
        operation: str = "",
        form: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        """Send a request to `target`, a path (and query) on the target's host."""
        sent = {"Accept": "application/json", "User-Agent": "mockauth-contract", **self.headers, **(headers or {})}
        body = b""
        if form is not None:
            body = urlencode(list(form)).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        record = Exchange(method, self.origin + target, tuple(sent.items()), body, operation)
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.monotonic()
        try:
            connection.request(method, target, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            record = dataclasses.replace(record, error=_network_error(error))
        else:
            record = dataclasses.replace(
                record, status=response.status, response_headers=tuple(response.getheaders()),
                response_body=data, elapsed=time.monotonic() - started,
            )
        finally:
            connection.close()
        return record


def _network_error(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
