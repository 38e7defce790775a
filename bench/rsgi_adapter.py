"""A WSGI app served through granian's RSGI interface, to measure the one way found to keep
the `disconnect` mode on granian: RSGI hands the app the client's address, which names the
connection's socket among the worker's own file descriptors (Linux /proc/self/fd), and the
app can shut that socket down.

    BENCH_APP=mockauth BENCH_ADAPT=inline granian --interface rsgi rsgi_adapter:app
    BENCH_APP=trivial  BENCH_ADAPT=thread granian --interface rsgi rsgi_adapter:app

BENCH_ADAPT=inline calls the WSGI app on the event loop: as fast as it gets, but a request
that sleeps (the `slow` mode) stops every other connection of that worker. BENCH_ADAPT=thread
hands each request to a thread pool, as a WSGI server must for `slow`; the hop costs about
half the throughput (bench/RESULTS.md). Only the login's path is exercised here; the drop
itself is shown by `drop_connection`, not by the load.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

if os.environ.get("BENCH_APP", "trivial") == "mockauth":
    from mockauth import MockAuth

    wsgi_app: Callable[..., Iterable[bytes]] = MockAuth.from_fixtures().app
else:
    from trivial_app import app as wsgi_app

INLINE = os.environ.get("BENCH_ADAPT", "inline") == "inline"
POOL = ThreadPoolExecutor(max_workers=8)


def drop_connection(client: str) -> bool:
    """Shut down the socket whose peer is `client` ("host:port"); the client sees a reset."""
    host, _, port = client.rpartition(":")
    peer = (host.strip("[]"), int(port))
    for name in os.listdir("/proc/self/fd"):
        with_fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{with_fd}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(with_fd))
        except OSError:
            continue
        with sock:
            try:
                if sock.getpeername()[:2] == peer:
                    sock.shutdown(socket.SHUT_RDWR)
                    return True
            except OSError:
                continue
    return False


def call(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, headers]

    body = b"".join(wsgi_app(environ, start_response))
    return int(started[0].split(" ", 1)[0]), started[1], body


class App:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        body = await proto()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope.method,
            "PATH_INFO": scope.path,
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SCRIPT_NAME": "",
            "REMOTE_ADDR": scope.client.rpartition(":")[0],
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": scope.scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in scope.headers.items():
            name = key.upper().replace("-", "_")
            environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name] = value
        if INLINE:
            status, headers, data = call(environ)
        else:
            status, headers, data = await asyncio.get_running_loop().run_in_executor(POOL, call, environ)
        proto.response_bytes(status, headers, data)


app = App()
