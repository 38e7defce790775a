"""A bare HTTP client (standard library) for the auth checks, and the record of each
request it sent: what went out, what came back, a curl line to send it again."""

from __future__ import annotations

import dataclasses
import http.client
import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .results import PASSWORD_VARIABLE, clip


@dataclass(frozen=True)
class Exchange:
    """One request an auth check sent and the answer (``status`` None: no answer)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    form: tuple[tuple[str, str], ...] | None = None
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""
    error: str | None = None

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
        """A shell line that sends the same request; the real password is read from
        $MOCKAUTH_CONTRACT_PASSWORD rather than printed."""
        parts = ["curl -i -X", self.method, _quote(self.url)]
        for key, value in self.request_headers:
            if key.lower() in (
                "user-agent",
                "content-length",
                "host",
                "accept-encoding",
                "connection",
            ):
                continue
            if self.form is not None and key.lower() == "content-type":
                continue  # --data-urlencode sets it
            parts += ["-H", _quote(f"{key}: {value}")]
        if self.form is not None:
            for key, value in self.form:
                if secret and value == secret:
                    parts += ["--data-urlencode", f'"{key}=${PASSWORD_VARIABLE}"']
                else:
                    parts += ["--data-urlencode", _quote(f"{key}={value}")]
        elif self.body:
            parts += ["--data-binary", _quote_secret(self.body.decode("utf-8", "replace"), secret)]
        return " ".join(parts)

    def describe(self, secret: str | None = None) -> str:
        """What was sent and what came back, as a person reads it."""
        sent = [f"  sent:     {self.method} {self.url}"]
        for key, value in self.request_headers:
            if key.lower() in ("authorization", "content-type") or not key.lower().startswith(
                ("user-", "accept", "host")
            ):
                sent.append(f"            {key}: {value}")
        if self.form is not None:
            shown = [
                (k, f"${PASSWORD_VARIABLE}" if secret and v == secret else v) for k, v in self.form
            ]
            sent.append("            " + urlencode(shown, safe="$@"))
        elif self.body:
            sent.append("            " + clip(_hide(self.body.decode("utf-8", "replace"), secret)))
        if self.status is None:
            got = [f"  got:      no answer: {self.error}"]
        else:
            got = [f"  got:      HTTP {self.status}"]
            for key, value in self.response_headers:
                if key.lower() in ("content-type", "cache-control", "www-authenticate", "pragma"):
                    got.append(f"            {key}: {value}")
            if self.response_body:
                got.append("            " + clip(self.response_body.decode("utf-8", "replace")))
        return "\n".join([*sent, *got, f"  curl:     {self.curl(secret)}"])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _quote_secret(text: str, secret: str | None) -> str:
    if not secret or secret not in text:
        return _quote(text)
    return f'"${PASSWORD_VARIABLE}"'.join(_quote(part) for part in text.split(secret))


def _hide(text: str, secret: str | None) -> str:
    return text.replace(secret, f"${PASSWORD_VARIABLE}") if secret else text


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
        form: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        sent = {
            "Accept": "application/json",
            "User-Agent": "mockauth-contract",
            **self.headers,
            **(headers or {}),
        }
        body = b""
        if form is not None:
            body = urlencode(list(form)).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        url = self.base_url + path
        record = Exchange(
            method, url, tuple(sent.items()), body, tuple(form) if form is not None else None
        )
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, self.prefix + path, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            return _replace(record, error=_network_error(error))
        finally:
            connection.close()
        return _replace(
            record,
            status=response.status,
            response_headers=tuple(response.getheaders()),
            response_body=data,
        )


def _replace(record: Exchange, **changes: Any) -> Exchange:
    return dataclasses.replace(record, **changes)


def _network_error(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__
