"""The in-process doors: ``responses`` for ``requests``, transports for httpx (sync and
async), and the one WSGI call they share. No socket is opened."""

from __future__ import annotations

import functools
import importlib
import io
import json
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .._errors import ConfigError, Disconnected

if TYPE_CHECKING:
    import httpx

WSGIApp = Callable[..., Any]


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


def mount_path(base_url: str | None) -> str:
    """The path of a base URL, where the mock is mounted: '' for the root; ConfigError
    for what is no http(s) URL (requests to it would never reach the mock, silently)."""
    if base_url is None:
        return ""
    try:
        parts = urlsplit(base_url) if isinstance(base_url, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url: expected an http:// or https:// URL, got {base_url!r}")
    return parts.path.rstrip("/")


def wsgi_environ(method: str, url: str, headers: Any, body: bytes, mount: str = "") -> dict[str, Any]:
    """The WSGI environ of one request, as Werkzeug's EnvironBuilder makes it, built
    directly: the in-process doors pay for this on every call, and the builder costs
    more than the app's own routing. A request under `mount` (a path) reaches the app
    with that part of its path as SCRIPT_NAME, as a mounted WSGI app sees it."""
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    path = unquote(parts.path or "/")
    script = ""
    if mount and path.startswith(mount):
        script, path = mount, path[len(mount):] or "/"
    path = path.encode().decode("latin1")
    raw_uri = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method.upper(),
        "SCRIPT_NAME": script.encode().decode("latin1"),
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
    app: WSGIApp, method: str, url: str, headers: Any, body: bytes, mount: str = ""
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through the app in-process: (status, headers, body). A URL
    outside the `mount` path is no part of the app: 404."""
    path = unquote(urlsplit(url).path or "/")
    if mount and not (path == mount or path.startswith(mount + "/")):
        body = json.dumps({
            "error": "not_found", "error_description": f"There is no {path} here; the mock is at {mount}/.",
        }).encode()
        return 404, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body
    started: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, response_headers]
        return started.append  # the WSGI write() callable; the app never uses it

    app_iter = app(wsgi_environ(method, url, headers, body, mount), start_response)
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
        self.mount = mount_path(base_url)
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
            return call_app(
                self.app, request.method, request.url, request.headers, _body_bytes(request.body), self.mount
            )
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


def _hung_up(request: httpx.Request) -> Exception:
    """What httpx raises when a real server closes the connection without an answer."""
    import httpx

    return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def _require(*modules: str) -> None:
    """ConfigError naming the extra to install, when a library an httpx door needs is missing."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(f"the httpx doors need {module}: pip install 'mockauth[httpx]'") from None


def httpx_transport(app: WSGIApp, base_url: str | None = None) -> httpx.BaseTransport:
    """An httpx transport answering in-process, mounted at `base_url`'s path;
    ``disconnect`` raises httpx.RemoteProtocolError as a real server hanging up would."""
    _require("httpx")
    import httpx

    mount = mount_path(base_url)

    class Transport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            try:
                status, headers, body = call_app(
                    app, request.method, str(request.url), request.headers, request.read(), mount
                )
            except Disconnected as error:
                raise _hung_up(request) from error
            return httpx.Response(status, headers=headers, content=body, request=request)

    return Transport()


def async_httpx_transport(app: WSGIApp, base_url: str | None = None) -> httpx.AsyncBaseTransport:
    """An async httpx transport answering in-process, under asyncio or trio (anyio),
    mounted at `base_url`'s path as httpx_transport is.

    Each request runs in a worker thread: the app is synchronous, and a ``slow`` mode
    sleeping in the event loop's own thread would stall every other task. So requests
    run concurrently, and the client's read timeout holds as against a real server
    (``httpx.ReadTimeout``; the abandoned request finishes in its thread). ``disconnect``
    raises httpx.RemoteProtocolError, as a real server hanging up would.
    """
    _require("httpx", "anyio")
    import anyio
    import anyio.to_thread
    import httpx

    mount = mount_path(base_url)

    class AsyncTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            answer = functools.partial(call_app, app, request.method, str(request.url), request.headers, body, mount)
            read_timeout = request.extensions.get("timeout", {}).get("read")
            try:
                with anyio.move_on_after(read_timeout) as waited:
                    status, headers, content = await anyio.to_thread.run_sync(answer, abandon_on_cancel=True)
            except Disconnected as error:
                raise _hung_up(request) from error
            if waited.cancelled_caught:
                raise httpx.ReadTimeout(
                    f"mockauth did not answer within the client's read timeout ({read_timeout} s)",
                    request=request,
                )
            return httpx.Response(status, headers=headers, content=content, request=request)

    return AsyncTransport()
