"""The doors to the app: a live threaded server, ``responses`` interception, httpx.

Each takes a WSGI app and nothing else: the app never knows how it is served.
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ._errors import Disconnected, ServerError

if TYPE_CHECKING:
    import httpx

WSGIApp = Callable[..., Any]
SHUTDOWN_TIMEOUT = 5.0
READ_TIMEOUT = 30.0


# Query parameters whose values never reach the access log.
_SECRET_QUERY = re.compile(
    r"((?:^|[?&;])(?:[^=&;]*token[^=&;]*|password|secret|code)=)[^&;#\s]*", re.IGNORECASE
)
# http.server answers a few malformed requests itself, before the app sees them.
_TRANSPORT_ERRORS = {
    400: "invalid_request",
    408: "request_timeout",
    413: "request_too_large",
    414: "uri_too_long",
    431: "request_header_fields_too_large",
    501: "not_implemented",
    505: "http_version_not_supported",
}


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler with JSON errors, a read timeout and no secrets in its log."""

    quiet = False

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own answers (request line or headers too long, bad request line)
        # are HTML by default; every answer of the mock is a JSON error.
        phrase = self.responses.get(code, ("Error", ""))[0]
        body = json.dumps({
            "error": _TRANSPORT_ERRORS.get(code, "invalid_request"),
            "error_description": f"{message or phrase}.",
        }).encode()
        self.log_error("code %d, message %s", code, message)
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            # An unparsable request line leaves http.server assuming HTTP/0.9, which
            # has no status line or headers; nobody speaks 0.9, so answer as HTTP/1.x.
            self.request_version = "HTTP/1.0"
        self.send_response(code, phrase)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
        self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.quiet:
            return
        # Not the dashboard's polling: it reads the state and the journal every second or
        # two and would bury the requests that matter.
        route = str(getattr(self, "path", "")).split("?")[0]
        polling = self.command == "GET" and route.startswith("/_mockauth/") and route != "/_mockauth/"
        if polling and str(code).startswith("2"):
            return
        # A token or password in a query string stays out of the log.
        path = getattr(self, "path", None)
        if isinstance(path, str):
            self.path = _SECRET_QUERY.sub(r"\1[redacted]", path)
        try:
            super().log_request(code, size)
        finally:
            if isinstance(path, str):
                self.path = path

    def log_error(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_error(format, *args)


def _handler(quiet: bool, timeout: float | None) -> type[_Handler]:
    # StreamRequestHandler applies `timeout` to every socket read: a client that stops
    # sending mid-request (slowloris) frees its thread instead of holding it forever.
    return type("MockAuthRequestHandler", (_Handler,), {"quiet": quiet, "timeout": timeout})


class Server:
    """A threaded Werkzeug server in a background thread, bound to 127.0.0.1 and a free
    port by default. Use it as a context manager; shutdown waits at most 5 seconds.
    A client silent for `read_timeout` seconds mid-request is cut off (408 mid-body).

    >>> with auth.serve() as server:  # doctest: +SKIP
    ...     requests.post(server.url + "/auth/login", data={...})
    """

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_stop: Callable[[], None] | None = None,
        quiet: bool = True,
        read_timeout: float | None = READ_TIMEOUT,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.on_stop = on_stop
        self.quiet = quiet
        self.read_timeout = read_timeout
        self.admin_token: str | None = None  # what the control API asks for, if anything
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise ServerError("the server is not running; use it as `with auth.serve() as server:`")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Server:
        # Bind here rather than in Werkzeug, which prints and exits the process when the
        # port is taken; a library must raise instead.
        try:
            family, _, _, _, address = socket.getaddrinfo(self.host, self.requested_port, type=socket.SOCK_STREAM)[0]
            listener = socket.create_server(address[:2], family=family, backlog=128)
        except OSError as error:
            raise ServerError(
                f"cannot listen on {self.host}:{self.requested_port}: {error.strerror or error}"
            ) from None
        with listener:
            self._server = make_server(
                self.host, listener.getsockname()[1], self.app, threaded=True,
                request_handler=_handler(self.quiet, self.read_timeout),
                fd=listener.fileno(),
            )
        self._thread = threading.Thread(target=self._run, name=f"mockauth-server-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        assert self._server is not None
        try:
            # poll_interval bounds how long shutdown() waits for the loop to notice.
            self._server.serve_forever(poll_interval=0.05)
        except BaseException as error:  # surfaced in the caller's thread by stop()
            self._crash = error

    def stop(self) -> None:
        """Stop serving, wait at most SHUTDOWN_TIMEOUT seconds, then raise any error a
        request raised inside the app."""
        server, thread, self._server = self._server, self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(SHUTDOWN_TIMEOUT)
            if thread.is_alive():
                raise ServerError(f"the server thread did not stop within {SHUTDOWN_TIMEOUT} s")
        if self._crash is not None:
            crash, self._crash = self._crash, None
            raise ServerError(f"the server loop crashed: {crash!r}") from crash
        if self.on_stop is not None:
            self.on_stop()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _strip_hop_headers(headers: Any) -> dict[str, str]:
    # A body handed to Werkzeug whole must not claim to be chunked.
    return {k: v for k, v in headers.items() if k.lower() not in ("transfer-encoding", "content-length")}


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        return bytes(body.read())
    return b"".join(bytes(chunk) if not isinstance(chunk, str) else chunk.encode() for chunk in body)


def wsgi_environ(method: str, url: str, headers: Any, body: bytes) -> dict[str, Any]:
    """The WSGI environ of one request, as Werkzeug's EnvironBuilder makes it, built
    directly: the in-process doors pay for this on every call, and the builder costs
    more than the app's own routing."""
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    path = unquote(parts.path or "/").encode().decode("latin1")
    raw_uri = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": parts.query.encode().decode("latin1"),
        "REQUEST_URI": raw_uri.encode().decode("latin1"),
        "RAW_URI": raw_uri.encode().decode("latin1"),
        "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": str(parts.port or (443 if scheme == "https" else 80)),
        "HTTP_HOST": parts.netloc or "localhost",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for key, value in _strip_hop_headers(headers).items():
        name = key.upper().replace("-", "_")
        environ[name if name == "CONTENT_TYPE" else "HTTP_" + name] = value
    return environ


def call_app(
    app: WSGIApp, method: str, url: str, headers: Any, body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through the app in-process: (status, headers, body)."""
    started: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, response_headers]
        return started.append  # the WSGI write() callable; the app never uses it

    app_iter = app(wsgi_environ(method, url, headers, body), start_response)
    try:
        data = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    status, response_headers = started[0], started[1]
    return int(status.split(None, 1)[0]), list(response_headers), data


class Interceptor:
    """``responses`` answering every ``requests`` call to `base_url` in-process.

    Other URLs reach the network when `passthrough` (default) and raise
    ``requests.ConnectionError`` otherwise. Use it as a context manager.
    """

    METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

    def __init__(self, app: WSGIApp, base_url: str, *, passthrough: bool = True) -> None:
        import responses

        self.app = app
        self.base_url = base_url.rstrip("/")
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        pattern = re.compile(re.escape(self.base_url) + r"(/.*)?(\?.*)?$")
        for method in self.METHODS:
            self.mock.add_callback(method, pattern, callback=self._answer, content_type=None)  # type: ignore[arg-type]
        if passthrough:
            self.mock.add_passthru(re.compile(r"(?!" + re.escape(self.base_url) + r")"))

    def _answer(self, request: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        import requests

        try:
            return call_app(self.app, request.method, request.url, request.headers, _body_bytes(request.body))
        except Disconnected as error:
            raise requests.ConnectionError(str(error), request=request) from error

    def __enter__(self) -> Interceptor:
        self.mock.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mock.stop()
        self.mock.reset()

    @property
    def url(self) -> str:
        """The base URL answered in-process (the same as ``base_url``)."""
        return self.base_url

    @property
    def calls(self) -> Any:
        return self.mock.calls


def httpx_transport(app: WSGIApp) -> httpx.BaseTransport:
    """An httpx transport answering in-process; ``disconnect`` raises httpx.RemoteProtocolError
    as a real server hanging up would."""
    import httpx

    class Transport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                status, headers, body = call_app(
                    app, request.method, str(request.url), request.headers, request.read()
                )
            except Disconnected as error:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from error
            return httpx.Response(status, headers=headers, content=body, request=request)

    return Transport()


