"""The live door: a threaded Werkzeug server in a background thread, on real sockets."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from .._app.admin import GUARD_KEY, Guard
from .._errors import ConfigError, ServerError

if TYPE_CHECKING:
    import ssl

    from .tls import ServerTLS

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
    return _SECRET_QUERY.sub(r"\1[redacted]", path) if "=" in path else path


class _AccessLog:
    """Access-log lines gathered and written to stderr in batches, at most FLUSH_AFTER
    seconds after they are logged (as nginx's ``access_log ... buffer= flush=``).

    A write and a flush per request were about 5 % of `mockauth serve`'s logins/s
    (bench/serve_overheads.py). One thread writes, woken by the first line after a quiet
    spell; past MAX_WAITING lines (stderr blocked, a pipe nobody reads) the request
    threads write themselves and wait on it, as they did line by line, so nothing grows."""

    FLUSH_AFTER = 0.05
    MAX_WAITING = 10_000

    def __init__(self) -> None:
        self._start_afresh()
        atexit.register(self.flush)
        if hasattr(os, "register_at_fork"):  # a gunicorn worker: its own locks and thread
            os.register_at_fork(after_in_child=self._start_afresh)

    def _start_afresh(self) -> None:
        self._waiting: list[str] = []
        self._lines = threading.Condition(threading.Lock())
        self._writing = threading.Lock()  # one writer at a time, lines in order
        self._writer: threading.Thread | None = None

    def add(self, line: str) -> None:
        with self._lines:
            self._waiting.append(line)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_forever, name="mockauth-access-log", daemon=True)
                self._writer.start()
            waiting = len(self._waiting)
            if waiting == 1:  # the first after a flush: the writer may be asleep
                self._lines.notify()
        if waiting >= self.MAX_WAITING:
            self.flush()

    def flush(self) -> None:
        with self._writing:
            with self._lines:
                lines, self._waiting = self._waiting, []
            if lines:
                sys.stderr.write("".join(lines))
                sys.stderr.flush()

    def _write_forever(self) -> None:
        while True:
            with self._lines:
                while not self._waiting:
                    self._lines.wait()
            time.sleep(self.FLUSH_AFTER)  # what else arrives meanwhile goes out with it
            self.flush()


_access_log = _AccessLog()
_log_second: tuple[int, str] = (0, "")


def log_access(remote: str, request_line: str, status: object, size: object) -> None:
    """One access-log line on stderr, as Werkzeug writes it
    (``127.0.0.1 - - [29/Nov/2026 11:43:45] "POST /auth/login HTTP/1.1" 200 -``).

    Written directly rather than through the logging module Werkzeug uses, whose record,
    handler and formatter were a tenth of the CPU of a login on `mockauth serve`
    (callgrind, bench/RESULTS.md), and in batches (_AccessLog); the time stamp is
    formatted once a second."""
    global _log_second
    now = int(time.time())
    second, stamp = _log_second
    if second != now:
        stamp = time.strftime("%d/%b/%Y %H:%M:%S", time.localtime(now))
        _log_second = (now, stamp)
    _access_log.add(f'{remote} - - [{stamp}] "{request_line}" {status} {size}\n')


def flush_access_log() -> None:
    """Write out the access-log lines still waiting (a server stopping)."""
    _access_log.flush()


class _KernelTimedIO(io.RawIOBase):
    """One direction of a plain TCP connection whose waits the kernel ends
    (SO_RCVTIMEO, SO_SNDTIMEO), raising TimeoutError where a socket timeout would.

    A socket timeout (``settimeout``) makes every read and write wait in poll() first,
    one more system call and one more release of the GIL each: 5 % of `mockauth serve`'s
    logins/s (bench/serve_overheads.py). The socket stays blocking here and the kernel
    keeps the deadline, so the handler, Werkzeug and the app see the same TimeoutError
    (408 mid-body, a silent connection closed) at no cost while data flows."""

    def __init__(self, sock: socket.socket, *, reading: bool) -> None:
        super().__init__()
        self._sock = sock
        self._reading = reading

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return not self._reading

    def readinto(self, buffer: Any) -> int:
        try:
            return self._sock.recv_into(buffer)
        except BlockingIOError:  # EAGAIN: SO_RCVTIMEO ran out
            raise TimeoutError("timed out") from None

    def write(self, data: Any) -> int:
        try:
            return self._sock.send(data)
        except BlockingIOError:  # EAGAIN: SO_SNDTIMEO ran out
            raise TimeoutError("timed out") from None


# struct timeval is two longs on Linux and BSD (macOS pads an int to a long); Windows
# takes milliseconds in a DWORD, so there the socket timeout stays.
_KERNEL_TIMEOUTS = sys.platform != "win32" and hasattr(socket, "SO_RCVTIMEO")


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler with JSON errors, a read timeout and no secrets in its log."""

    quiet = False
    colours = False  # Werkzeug's coloured log lines, when stderr is a terminal
    read_timeout: float | None = None
    guard = Guard()
    # Buffered: the status line and headers go out with the body, in one send, where
    # http.server sends them first (unbuffered, TCP_NODELAY) and the body after: two
    # segments and two wake-ups of the client for each answer. Werkzeug flushes after
    # every chunk of the body, and http.server after each request.
    wbufsize = io.DEFAULT_BUFFER_SIZE

    def setup(self) -> None:
        # A client that stops sending mid-request (slowloris), or stops reading an
        # answer, frees its thread after read_timeout instead of holding it forever.
        if self.read_timeout is None or not _KERNEL_TIMEOUTS or type(self.request) is not socket.socket:
            super().setup()
            self.connection.settimeout(self.read_timeout)  # TLS too: SSLSocket reads need it
            return
        self.connection = self.request
        seconds = int(self.read_timeout)
        timeval = struct.pack("@ll", seconds, int((self.read_timeout - seconds) * 1_000_000))
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        self.rfile = io.BufferedReader(_KernelTimedIO(self.connection, reading=True), io.DEFAULT_BUFFER_SIZE)
        self.wfile = io.BufferedWriter(_KernelTimedIO(self.connection, reading=False), self.wbufsize)

    def finish(self) -> None:
        try:
            self.wfile.flush()
        except OSError:
            # The client went away: what is left unsent is dropped here, or closing the
            # buffer would try to send it once more (and raise where no one catches it).
            raw = getattr(self.wfile, "raw", None)
            if raw is not None:
                raw.close()
        super().finish()

    def handle_expect_100(self) -> bool:
        # "100 Continue" must reach the client now: it waits for it before the body.
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered

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
        if self.colours:
            self.path = shown
            try:
                super().log_request(code, size)
            finally:
                self.path = path
            return
        line = f"{self.command} {shown} {self.request_version}".translate(self._control_char_table)
        log_access(self.address_string(), line, code, size)

    def log_error(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_error(format, *args)


def _handler(quiet: bool, timeout: float | None, guard: Guard) -> type[_Handler]:
    colours = not quiet and sys.stderr.isatty()  # asked once, not a system call a request
    return type(
        "MockAuthRequestHandler", (_Handler,),
        {"quiet": quiet, "read_timeout": timeout, "guard": guard, "colours": colours},
    )


def listen(host: str, port: int, *, backlog: int) -> socket.socket:
    """A listening socket on `host`:`port`; ServerError (one line, the OS's reason) if not,
    ConfigError for a port that is no port."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        # getaddrinfo() would take 99999 as 34463 (modulo 65536), and -1 as an unknown error.
        raise ConfigError(f"port: expected a whole number from 0 to 65535 (0: a free one), got {port!r}")
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        return socket.create_server(address[:2], family=family, backlog=backlog)
    except socket.gaierror as error:  # its errno is no OS error number: strerror() has no text for it
        raise ServerError(f"cannot listen on {host}:{port}: {host!r} does not resolve ({error.strerror})") from None
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ServerError(f"cannot listen on {host}:{port}: {reason}") from None


class _ThreadedServer(ThreadedWSGIServer):
    """Werkzeug's threaded server; over HTTPS, each connection's TLS handshake runs in
    its own request thread (Werkzeug would run it in the accept loop, where one silent
    client stalls every other), after a look at whether it speaks TLS at all."""

    tls: ServerTLS | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        # An answer goes out in several small writes (over TLS, after the session
        # tickets): with Nagle's algorithm they waited for the client's delayed ACKs, and
        # an HTTPS login on loopback took 21 ms instead of 5 (bench/RESULTS.md).
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        from .tls import PlainHTTP

        try:
            connection = self.tls.wrap_socket(request)
        except PlainHTTP:
            return  # answered or closed already; socketserver closes `request`
        with connection:
            super().finish_request(connection, client_address)


class Server:
    """A threaded Werkzeug server in a background thread, bound to 127.0.0.1 and a free
    port by default. Use it as a context manager; shutdown waits at most 5 seconds.
    A client silent for `read_timeout` seconds mid-request is cut off (408 mid-body).
    With `tls` it speaks HTTPS only (``url`` is https://, ``ca_bundle`` the CA to trust).

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
        tls: ServerTLS | None = None,
    ) -> None:
        self.app = app
        self.tls = tls
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
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """The certificate of mockauth's local CA, which clients must trust to reach
        `url`; None over plain HTTP or with your own certificate."""
        return self.tls.ca_bundle if self.tls is not None else None

    def start(self) -> Server:
        # Bind here rather than in Werkzeug, which prints and exits the process when the
        # port is taken; a library must raise instead.
        with listen(self.host, self.requested_port, backlog=128) as listener:
            self._server = server = _ThreadedServer(
                self.host, listener.getsockname()[1], self.app,
                handler=_handler(self.quiet, self.read_timeout, self.guard),
                fd=listener.fileno(),
            )
        if self.tls is not None:
            server.tls = self.tls
            # Werkzeug only asks whether it is set: the environ then says https.
            server.ssl_context = cast("ssl.SSLContext", self.tls)
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
        flush_access_log()
        if thread is not None:
            thread.join(SHUTDOWN_TIMEOUT)
            if thread.is_alive():
                raise ServerError(f"the server thread did not stop within {SHUTDOWN_TIMEOUT} s")
        if self.tls is not None:
            self.tls.close()
        if self._crash is not None:
            crash, self._crash = self._crash, None
            raise ServerError(f"the server loop crashed: {crash!r}") from crash
        if self.on_stop is not None:
            self.on_stop()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
