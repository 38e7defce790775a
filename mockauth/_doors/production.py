"""``mockauth serve --workers N``: the same WSGI app on gunicorn (the ``mockauth[server]`` extra).

Gunicorn, not granian, although granian is faster on a trivial app: a WSGI app under
granian cannot close a connection without an answer (an exception becomes a 500, a
failing body iterator a truncated 200, an invalid status kills the worker), so the
``disconnect`` mode could not be honoured there. Gunicorn hands the app its socket, as
Werkzeug does, and treats a connection reset as a client gone away. bench/RESULTS.md
has the figures.

The app is built once in the arbiter before the workers fork, so every worker starts
with the same users, keys (a generated RS256/ES256 key too) and ``--mode`` armings; from
then on each worker keeps its own state, unless the state is in Redis (``--state
redis://...``): then they share it (a Redis connection pool notices the fork and opens
connections of its own in each worker).
"""

from __future__ import annotations

import errno
import gc
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._app.admin import GUARD_KEY, Guard
from .._errors import Disconnected, ServerError
from .._values import printable
from .live import listen, log_access, logged_path

if TYPE_CHECKING:
    from .tls import ServerTLS

WSGIApp = Callable[..., Any]
# Seconds gunicorn waits for requests in flight when told to stop, as Server.stop() does.
GRACEFUL_TIMEOUT = 5
# Threads per worker: a `slow` request sleeps in its thread, so one thread would stall
# every other request of the worker behind it. 1, 2, 4 and 8 threads served logins
# within the noise of each other on the 2-core bench machine.
DEFAULT_THREADS = 4

STATE_NOTE = "each worker keeps its own refresh tokens, revocations, armed modes, clock and journal"


def _served(app: WSGIApp, guard: Guard) -> WSGIApp:
    """The app as gunicorn calls it: each request carries the server's guard (Host
    check, admin token), and `disconnect` hangs up. Gunicorn closes the connection
    silently on ECONNRESET and logs any other error with a traceback; `disconnect` has
    already shut the socket down by then."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[GUARD_KEY] = guard
        try:
            result: Iterable[bytes] = app(environ, start_response)
        except Disconnected as error:
            raise ConnectionResetError(errno.ECONNRESET, str(error)) from error
        return result

    return wsgi


def serve(
    app: WSGIApp,
    host: str,
    port: int,
    *,
    workers: int,
    threads: int = DEFAULT_THREADS,
    on_ready: Callable[[str], None] | None = None,
    guard: Guard | None = None,
    tls: ServerTLS | None = None,
) -> None:
    """Serve `app` on gunicorn until SIGINT or SIGTERM; `on_ready` gets the URL once
    the socket listens. With `tls`, HTTPS only. Raises ServerError when gunicorn is not
    installed or the port cannot be bound."""
    try:
        from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
        from gunicorn.glogging import Logger  # type: ignore[import-untyped]
    except ImportError:
        raise ServerError(
            "--workers needs gunicorn, which is not installed: pip install 'mockauth[server]'"
        ) from None

    wsgi = _served(app, guard or Guard(bound=host))
    # Bound here: gunicorn, finding the port taken, would log an error a second for
    # five seconds and then exit; this is one ServerError.
    listener = listen(host, port, backlog=2048)

    class AccessLog(Logger):  # type: ignore[misc]
        """One line a request on stderr, as `mockauth serve` without --workers writes
        them (no colours, secrets in query strings redacted, no dashboard polling)."""

        def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
            status = str(resp.status).split(None, 1)[0]
            shown = logged_path(environ["REQUEST_METHOD"], environ.get("RAW_URI") or "/", status)
            if shown is None:
                return
            sent = getattr(resp, "sent", None)
            line = f'{environ["REQUEST_METHOD"]} {shown} {environ.get("SERVER_PROTOCOL", "-")}'
            log_access(
                environ.get("REMOTE_ADDR", "-"), printable(line),
                status, sent if sent is not None else "-",
            )

    def when_ready(server: Any) -> None:
        bound_host, bound_port = server.LISTENERS[0].sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        if on_ready is not None:
            on_ready(f"{'https' if tls else 'http'}://{shown}:{bound_port}")

    options: dict[str, Any] = {
        # The socket bound above, handed over (gunicorn takes a copy and closes this one).
        "bind": [f"fd://{listener.detach()}"],
        "logger_class": AccessLog,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "loglevel": "warning",
        "proc_name": "mockauth",
        "when_ready": when_ready,
    }
    if tls is not None:
        # gunicorn turns TLS on when it has a certificate file; the `ssl_context` hook then
        # hands each connection to `tls` (the plain-HTTP answer, the handshake's time
        # limit, the renewed certificate) instead of a context of gunicorn's own.
        options["certfile"] = str(tls.cert_file)
        options["keyfile"] = str(tls.key_file)
        options["ssl_context"] = lambda config, default_factory: tls

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return wsgi

    arbiter = os.getpid()
    # What exists now (the app, its users and keys, every module) lives as long as the
    # server: kept out of the garbage collector's passes, which would otherwise walk it
    # in every worker (and, touching it, copy the arbiter's memory into each).
    gc.freeze()
    try:
        _Gunicorn().run()
    except SystemExit as stop:
        if os.getpid() != arbiter:
            raise  # a forked worker leaving: it must not run the caller's code after this
        # The arbiter exits the process on SIGINT/SIGTERM; a clean stop is a return.
        if stop.code not in (0, None):
            raise ServerError(f"gunicorn stopped with status {stop.code}") from None
    finally:
        if tls is not None and os.getpid() == arbiter:
            tls.close()
