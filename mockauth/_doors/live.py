"""The live door: a threaded Werkzeug server in a background thread, on real sockets."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .._app.admin import GUARD_KEY, Guard
from .._errors import ServerError

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


def logged_path(method: str, path: str, code: str) -> str | None:
    """A request's path as the access log shows it (a token or password in the query
    string redacted), or None for a request not worth a line: the dashboard's polling
    (it reads the state and the journal every second or two and would bury the
    requests that matter)."""
    route = path.split("?")[0]
    if method == "GET" and route.startswith("/_mockauth/") and route != "/_mockauth/" and code.startswith("2"):
        return None
    return _SECRET_QUERY.sub(r"\1[redacted]", path)


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler with JSON errors, a read timeout and no secrets in its log."""

    quiet = False
    guard = Guard()

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        environ[GUARD_KEY] = self.guard  # the Host check and admin token of this server
        return environ

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
        path = getattr(self, "path", None)
        if not isinstance(path, str):  # a request line too broken to hold a path
            super().log_request(code, size)
            return
        shown = logged_path(self.command, path, str(code))
        if shown is None:
            return
        if sys.stderr.isatty():  # Werkzeug's colours, for a terminal only
            self.path = shown
            try:
                super().log_request(code, size)
            finally:
                self.path = path
            return
        line = f"{self.command} {shown} {self.request_version}".translate(self._control_char_table)
        self.log("info", '"%s" %s %s', line, code, size)

    def log_error(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_error(format, *args)


def _handler(quiet: bool, timeout: float | None, guard: Guard) -> type[_Handler]:
    # StreamRequestHandler applies `timeout` to every socket read: a client that stops
    # sending mid-request (slowloris) frees its thread instead of holding it forever.
    return type(
        "MockAuthRequestHandler", (_Handler,), {"quiet": quiet, "timeout": timeout, "guard": guard}
    )


def listen(host: str, port: int, *, backlog: int) -> socket.socket:
    """A listening socket on `host`:`port`; ServerError (one line, the OS's reason) if not."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        return socket.create_server(address[:2], family=family, backlog=backlog)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None


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
        guard: Guard | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.on_stop = on_stop
        self.quiet = quiet
        self.read_timeout = read_timeout
        # Checked on every request this server answers (never on the in-process doors):
        # the Host it is reached by, and the admin token of the control API.
        self.guard = guard or Guard(bound=host)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None

    @property
    def admin_token(self) -> str | None:
        """What this server's control API asks for, if anything."""
        return self.guard.admin_token

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
        with listen(self.host, self.requested_port, backlog=128) as listener:
            self._server = make_server(
                self.host, listener.getsockname()[1], self.app, threaded=True,
                request_handler=_handler(self.quiet, self.read_timeout, self.guard),
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
