"""A bare HTTP client (standard library) for the auth checks, the record of each request it
sent, and how any request is shown in a report: what went out, what came back, and a curl
line that sends it again with the password read from ``$MOCKAUTH_CONTRACT_PASSWORD``."""

from __future__ import annotations

import dataclasses
import http.client
import json
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .results import PASSWORD_VARIABLE, clip

# Stands for the password in a body until it is shown; no real body contains it.
_PASSWORD = "\x00mockauth-contract-password\x00"
_NOT_IN_CURL = frozenset(
    {"user-agent", "content-length", "host", "accept-encoding", "connection", "x-schemathesis-testcaseid"}
)
_SHOWN_SENT = ("authorization", "content-type")
_SHOWN_GOT = ("content-type", "cache-control", "www-authenticate", "pragma", "location", "allow")


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

    def curl(self, secret: str | None = None) -> str:
        return curl_line(self.method, self.url, self.request_headers, self.body, secret)

    def describe(self, secret: str | None = None) -> str:
        """What was sent and what came back, as a person reads it."""
        if self.status is None:
            got = [f"  got:      no answer: {self.error}"]
        else:
            got = shown_answer(self.status, self.response_headers, self.response_body)
        return "\n".join(
            [*shown_request(self.method, self.url, self.request_headers, self.body, secret), *got,
             f"  curl:     {self.curl(secret)}"]
        )


def shown_request(
    method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, secret: str | None
) -> list[str]:
    lines = [f"  sent:     {method} {url}"]
    headers = list(headers)
    lines += [f"            {k}: {v}" for k, v in headers if k.lower() in _SHOWN_SENT or _custom(k)]
    if body:
        kind, data = _masked(body, _content_type(headers), secret)
        if kind == "form":
            text = urlencode(data, safe="$@\x00").replace(_PASSWORD, f"${PASSWORD_VARIABLE}")
        else:
            text = str(data).replace(_PASSWORD, f"${PASSWORD_VARIABLE}")
        lines.append("            " + clip(text))
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
    method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes, secret: str | None
) -> str:
    """A shell line that sends the same request. The password field, when it holds the
    real password, reads ``$MOCKAUTH_CONTRACT_PASSWORD`` instead: masked by field, so
    a value that merely contains the password is sent as it was."""
    headers = list(headers)
    kind, data = _masked(body, _content_type(headers), secret) if body else ("none", [])
    parts = ["curl -i -X", method, _quote(url)]
    for key, value in headers:
        if key.lower() in _NOT_IN_CURL or (kind == "form" and key.lower() == "content-type"):
            continue  # --data-urlencode sets the form's Content-Type itself
        parts += ["-H", _quote(f"{key}: {value}")]
    if kind == "form":
        for key, value in data:
            if value == _PASSWORD:
                parts += ["--data-urlencode", _quote(f"{key}=") + f'"${PASSWORD_VARIABLE}"']
            else:
                parts += ["--data-urlencode", _quote(f"{key}={value}")]
    elif kind != "none":
        text = str(data)
        parts += ["--data-binary", f'"${PASSWORD_VARIABLE}"'.join(_quote(p) for p in text.split(_PASSWORD))]
    return " ".join(parts)


def _content_type(headers: Iterable[tuple[str, str]]) -> str:
    for key, value in headers:
        if key.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _masked(body: bytes, content_type: str, secret: str | None) -> tuple[str, Any]:
    """The body as ("form", pairs), ("json", text) or ("raw", text), with the value of a
    ``password`` field equal to `secret` replaced by a marker."""
    text = body.decode("utf-8", "replace")
    if content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        if urlencode(pairs) == text:  # a body that reads back as sent; else show it raw
            return "form", [(k, _PASSWORD if k == "password" and secret and v == secret else v) for k, v in pairs]
    elif content_type.endswith("json"):
        try:
            value = json.loads(text)
        except ValueError:
            return "raw", text
        if isinstance(value, dict) and secret and value.get("password") == secret:
            return "json", json.dumps({**value, "password": _PASSWORD}, ensure_ascii=False).replace(
                json.dumps(_PASSWORD), f'"{_PASSWORD}"'
            )
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
        sent = {"Accept": "application/json", "User-Agent": "mockauth-contract", **self.headers, **(headers or {})}
        body = b""
        if form is not None:
            body = urlencode(list(form)).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        record = Exchange(method, self.base_url + path, tuple(sent.items()), body, operation)
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        started = time.monotonic()
        try:
            connection.request(method, self.prefix + path, body=body or None, headers=sent)
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
