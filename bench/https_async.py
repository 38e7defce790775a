"""What HTTPS costs the live server, and what the async door costs over the sync one.

    python bench/https_async.py [--calls 2000] [--connections 300] [--nagle]

1. In-process: --calls logins through `httpx.Client` on `auth.httpx_transport()` and
   through `httpx.AsyncClient` on `auth.async_httpx_transport()` (one after another, and
   50 at a time), best of 5 rounds, per login.
2. Live server (Werkzeug, 127.0.0.1): --connections logins with bare `requests.post` (a
   new connection each: the server closes every connection after its answer) over HTTP
   and over HTTPS (the local CA's certificate, verified), best of 5 rounds, per login.
   `--nagle` turns TCP_NODELAY back off on the accepted connections, to see what it buys.

Prints a Markdown report. Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import tempfile
import time
from collections.abc import Callable
from typing import Any

FORM = {"username": "user@example.com", "password": "secretpassword"}


def best(calls: int, run: Callable[[], Any], rounds: int = 5) -> tuple[float, float]:
    """(wall µs, CPU µs) a call, best round."""
    results = []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        elapsed, used = time.perf_counter() - wall, time.process_time() - cpu
        results.append((elapsed / calls * 1e6, used / calls * 1e6))
    return min(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--nagle", action="store_true", help="leave Nagle's algorithm on (TCP_NODELAY off)")
    args = parser.parse_args()
    os.environ.setdefault("MOCKAUTH_DATA_DIR", tempfile.mkdtemp(prefix="mockauth-bench-"))

    import anyio
    import httpx
    import requests

    from mockauth import MockAuth
    from mockauth._doors import live

    if args.nagle:
        from mockauth._doors.tls import PlainHTTP

        def with_nagle(self: Any, request: socket.socket, address: Any) -> None:
            """finish_request as it was before TCP_NODELAY."""
            if self.tls is None:
                live.ThreadedWSGIServer.finish_request(self, request, address)
                return
            try:
                connection = self.tls.wrap_socket(request)
            except PlainHTTP:
                return
            with connection:
                live.ThreadedWSGIServer.finish_request(self, connection, address)

        live._ThreadedServer.finish_request = with_nagle  # type: ignore[method-assign]

    rows = []
    auth = MockAuth.from_fixtures()
    calls = args.calls
    base = "https://auth.example.test"
    with httpx.Client(transport=auth.httpx_transport(), base_url=base) as client:

        def sync_logins() -> None:
            for _ in range(calls):
                client.post("/auth/login", data=FORM)

        rows.append(("`httpx.Client`, `httpx_transport()`", best(calls, sync_logins)))

    async def one_by_one() -> None:
        async with httpx.AsyncClient(transport=auth.async_httpx_transport(), base_url=base) as client:
            for _ in range(calls):
                await client.post("/auth/login", data=FORM)

    async def fifty_at_a_time() -> None:
        async with httpx.AsyncClient(transport=auth.async_httpx_transport(), base_url=base) as client:
            for _ in range(calls // 50):
                async with anyio.create_task_group() as tasks:
                    for _ in range(50):
                        tasks.start_soon(lambda: client.post("/auth/login", data=FORM))

    door = "`httpx.AsyncClient`, `async_httpx_transport()`"
    rows.append((f"{door}, one at a time", best(calls, lambda: anyio.run(one_by_one))))
    rows.append((f"{door}, 50 at a time", best(calls // 50 * 50, lambda: anyio.run(fifty_at_a_time))))

    connections = args.connections
    for tls in (False, True):
        served = MockAuth.from_fixtures(tls=tls)
        with served.serve() as server:
            verify: Any = server.ca_bundle or True
            url = server.url + "/auth/login"

            def live_logins(url: str = url, verify: Any = verify) -> None:
                for _ in range(connections):
                    requests.post(url, data=FORM, verify=verify, timeout=10)

            name = f"live server, {'HTTPS' if tls else 'HTTP'}, `requests.post`" + (", Nagle on" if args.nagle else "")
            rows.append((name, best(connections, live_logins)))

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print("| door | wall µs/login | CPU µs/login |")
    print("|---|---:|---:|")
    for name, (wall, cpu) in rows:
        print(f"| {name} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
