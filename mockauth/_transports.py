"""The doors to the app: a live threaded server, ``responses`` interception, httpx.

Each takes a WSGI app and nothing else: the app never knows how it is served.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ._errors import Disconnected, ServerError

if TYPE_CHECKING:
    import httpx

WSGIApp = Callable[..., Any]
SHUTDOWN_TIMEOUT = 5.0


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr for servers started from Python (tests)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _ServeHandler(WSGIRequestHandler):
    """The access log of ``mockauth serve``, without the dashboard's polling: it reads
    the state and the journal every second or two and would bury the requests that matter."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?")[0]
        polling = self.command == "GET" and path.startswith("/_mockauth/") and path != "/_mockauth/"
        if polling and str(code).startswith("2"):
            return
        super().log_request(code, size)


class Server:
    """A threaded Werkzeug server in a background thread, bound to 127.0.0.1 and a free
    port by default. Use it as a context manager; shutdown waits at most 5 seconds.

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
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.on_stop = on_stop
        self.quiet = quiet
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
                request_handler=_QuietHandler if self.quiet else _ServeHandler,
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


def call_app(
    app: WSGIApp, method: str, url: str, headers: Any, body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through the app in-process: (status, headers, body)."""
    parts = urlsplit(url)
    builder = EnvironBuilder(
        path=parts.path or "/",
        base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query,
        method=method,
        headers=list(_strip_hop_headers(headers).items()),
        input_stream=io.BytesIO(body),
        content_length=len(body),
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    try:
        data = b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    return int(status.split(None, 1)[0]), list(response_headers.items()), data


class Interceptor:
    """``responses`` answering every ``requests`` call to `base_url` in-process.

    Other URLs reach the network when `passthrough` (default) and raise
    ``requests.ConnectionError`` otherwise. Use it as a context manager.
    """

    METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

    def __init__(self, app: WSGIApp, base_url: str, *, passthrough: bool = True) -> None:
        import re

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


