"""Soak: 100,000 mixed requests against `mockauth serve`; does anything grow?

    python bench/soak.py                       # 100,000 requests, prints the figures
    python bench/soak.py --requests 20000      # a shorter run
    python bench/soak.py --write               # ... and records them in bench/RESULTS.md

Starts `mockauth serve` (this checkout's, from the running interpreter) on a free
loopback port with any extra flags given after `--`, and sends it a fixed cycle of
requests from several threads over keep-alive connections: good logins (form and JSON),
/auth/me with live, expired and revoked tokens, refreshes and refresh reuse, logouts,
bad bodies of every class the server refuses (lone surrogates, NaN, Infinity, 1e400,
4 KiB bodies, deep nesting, a field twice, non-UTF-8, oversized), odd query numbers,
malformed and foreign Authorization headers, CORS preflights and requests from a new
origin every time, requests for a new foreign Host every time (DNS rebinding), and
control-API calls (users with '/' in their names added, the mock's clock moved on an hour
every 1,000 requests: a day of tokens, default lifetimes, every 24,000 requests, so the
run reaches the state where tokens expire and are forgotten as fast as they are issued).

Every answer's status is checked against what the request must get. The server's RSS
(VmRSS) is read every 5,000 requests; the figure that matters is the growth after the
first 10,000 (the journal full, the threads started), which must stay under 5 MB.
Exit status 1 when it does not, or when any answer was not the one expected.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import itertools
import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BEGIN, END = "<!-- bench/soak.py: begin -->", "<!-- bench/soak.py: end -->"
LIMIT_KIB = 5 * 1024
SAMPLE_EVERY = 5000
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
LOGIN = "username=user%40example.com&password=secretpassword"


@dataclass
class Request:
    method: str
    path: str
    expected: tuple[int, ...]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Client:
    """One thread's connection and the tokens it holds."""

    host: str
    port: int
    connection: http.client.HTTPConnection | None = None
    tokens: list[dict[str, str]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    used_refresh: list[str] = field(default_factory=list)

    def send(self, request: Request) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(request.method, request.path, request.body, request.headers)
                answer = self.connection.getresponse()
                data = answer.read()
                if answer.getheader("Connection", "").lower() == "close" or answer.version == 10:
                    self.connection.close()
                    self.connection = None
                return answer.status, data
            except (ConnectionError, http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _json() -> dict[str, str]:
    return {"Content-Type": JSON}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


_counter = itertools.count()


def _unique() -> int:
    return next(_counter)


def _stateless(port: int) -> list[Callable[[], Request]]:
    """Requests that need no state, each with the status it must get."""
    huge = b"x" * 4096  # the 4 KiB bodies that once each kept a traceback in memory
    user = b'{"username": "user@example.com", "password": '

    def login(expected: int, body: bytes, headers: dict[str, str] | None = None) -> Callable[[], Request]:
        return lambda: Request("POST", "/auth/login", (expected,), headers or _json(), body)

    return [
        login(200, LOGIN.encode(), {"Content-Type": FORM}),
        login(401, b"username=user%40example.com&password=" + huge, {"Content-Type": FORM}),
        login(400, b'{"username": "\\ud800' + huge + b'", "password": "x"}'),
        login(400, user + b'"\\udfff' + huge + b'"}'),
        login(400, user + b"NaN}"),
        login(400, user + b"Infinity}"),
        login(400, b'{"username": 1e400, "password": "x"}'),
        login(400, b"[" * 3000 + b"]" * 3000),
        lambda: Request("POST", "/auth/login", (400,), {"Content-Type": FORM}, b"username=a&username=b&password=x"),
        lambda: Request("POST", "/auth/login", (400,), {"Content-Type": FORM}, b"username=\xff\xfe&password=x"),
        lambda: Request("POST", "/auth/login", (413,), {"Content-Type": FORM}, b"a=" + b"x" * 66_000),
        lambda: Request("POST", "/auth/login", (415,), {"Content-Type": "text/plain"}, b"hello"),
        lambda: Request("GET", "/_mockauth/journal?after=--5", (400,)),
        lambda: Request("GET", "/_mockauth/journal?after=%C2%B2", (400,)),
        lambda: Request("GET", "/auth/me", (401,), {"Authorization": "Basic dXNlcjpwYXNz"}),
        lambda: Request("GET", "/auth/me", (400,), {"Authorization": "Bearer a b"}),
        lambda: Request("GET", "/auth/me", (401,), _bearer("not.a.token")),
        lambda: Request("OPTIONS", "/auth/login", (403,), {
            "Origin": f"https://site{_unique()}.example", "Access-Control-Request-Method": "POST"}),
        lambda: Request("OPTIONS", "/auth/login", (204,), {
            "Origin": f"http://localhost:{1024 + _unique() % 60000}", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-request-id"}),
        lambda: Request("GET", "/.well-known/jwks.json", (200,), {"Origin": f"https://page{_unique()}.example"}),
        lambda: Request(
            "GET", "/_mockauth/users?passwords=true", (403,), {"Host": f"rebind{_unique()}.example:{port}"}
        ),
        lambda: Request("GET", "/health", (200,)),
        lambda: Request("DELETE", f"/_mockauth/users/nobody{_unique()}%2Fhere", (404,)),
        lambda: Request("POST", "/_mockauth/modes", (400,), _json(), b'{"name": "slow", "operation": "nowhere"}'),
    ]


def _stateful(client: Client) -> list[Callable[[], Request | None]]:
    """Requests that use the tokens this client holds (None: nothing to use yet)."""

    def me() -> Request | None:
        if not client.tokens:
            return None
        return Request("GET", "/auth/me", (200, 401), _bearer(client.tokens[-1]["access_token"]))

    def refresh() -> Request | None:
        if not client.tokens:
            return None
        token = client.tokens.pop(0)["refresh_token"]
        client.used_refresh.append(token)
        return Request("POST", "/auth/refresh", (200, 401), {"Content-Type": FORM}, f"refresh_token={token}".encode())

    def reuse() -> Request | None:
        if not client.used_refresh:
            return None
        token = client.used_refresh.pop(0)
        return Request("POST", "/auth/refresh", (401,), {"Content-Type": FORM}, f"refresh_token={token}".encode())

    def logout() -> Request | None:
        if not client.tokens:
            return None
        token = client.tokens.pop()["access_token"]
        client.revoked.append(token)
        return Request("POST", "/auth/logout", (204, 401), _bearer(token))

    def revoked() -> Request | None:
        return Request("GET", "/auth/me", (401,), _bearer(client.revoked.pop(0))) if client.revoked else None

    def json_login() -> Request:
        body = json.dumps({"username": "admin", "password": "adminpassword"})
        return Request("POST", "/auth/login", (200,), _json(), body.encode())

    def slash_user() -> Request:
        body = json.dumps({"username": f"team/user{_unique() % 50}", "password": "pw"})
        return Request("POST", "/_mockauth/users", (201,), _json(), body.encode())

    return [me, refresh, reuse, logout, revoked, json_login, slash_user]


def _rss_kib(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert match is not None
    return int(match.group(1))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Run:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[int, int]] = field(default_factory=list)  # (requests, RSS KiB)
    lock: threading.Lock = field(default_factory=threading.Lock)


def soak(total: int, threads: int, flags: list[str], log: Path) -> tuple[Run, float]:
    port = _free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mockauth", "serve", "--port", str(port), *flags],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "serving" not in log.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"mockauth serve did not start: {log.read_text()}")
            time.sleep(0.05)
        run = Run()
        next_sample = [SAMPLE_EVERY]
        started = time.monotonic()

        def worker(index: int) -> None:
            client = Client("127.0.0.1", port)
            plain, stateful = _stateless(port), _stateful(client)
            kinds: list[Callable[[], Request | None]] = [*plain, *stateful]
            for step in itertools.count(index):
                with run.lock:
                    if run.sent >= total:
                        return
                    run.sent += 1
                    number = run.sent
                    sample = number >= next_sample[0]
                    if sample:
                        next_sample[0] += SAMPLE_EVERY
                if number % 1000 == 0:
                    request: Request | None = Request(
                        "POST", "/_mockauth/clock", (200,), _json(), b'{"action": "advance", "seconds": 3600}'
                    )
                else:
                    request = kinds[step % len(kinds)]()
                if request is None:  # nothing to use yet: log in instead
                    request = plain[0]()
                status, data = client.send(request)
                if request.path == "/auth/login" and status == 200:
                    client.tokens.append(json.loads(data))
                    del client.tokens[:-20]  # a client keeps its latest few
                if request.path == "/auth/refresh" and status == 200:
                    client.tokens.append(json.loads(data))
                del client.revoked[:-20]
                del client.used_refresh[:-20]
                with run.lock:
                    run.statuses[status] += 1
                    if status not in request.expected:
                        run.unexpected[f"{request.method} {request.path[:40]} -> {status}"] += 1
                if sample:
                    rss = _rss_kib(server.pid)
                    with run.lock:
                        run.samples.append((number, rss))

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        seconds = time.monotonic() - started
        run.samples.sort()
        return run, seconds
    finally:
        server.terminate()
        server.wait(15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="record the run in bench/RESULTS.md")
    parser.add_argument("flags", nargs="*", help="extra `mockauth serve` flags, after --")
    args = parser.parse_args()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / "mockauth-soak.log"
    load_before = os.getloadavg()[0]
    run, seconds = soak(args.requests, args.threads, args.flags, log)
    load_after = os.getloadavg()[0]
    base = next(rss for n, rss in run.samples if n >= 10_000)
    growth = max(rss for n, rss in run.samples if n >= 10_000) - base
    final = run.samples[-1][1]
    curve = ", ".join(f"{n // 1000}k: {rss / 1024:.1f}" for n, rss in run.samples)
    command = "python bench/soak.py" + (f" --requests {args.requests}" if args.requests != 100_000 else "")
    command += (" -- " + " ".join(args.flags)) if args.flags else ""
    traceback_lines = log.read_text().count("Traceback")
    text = "\n".join([
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.system()} "
        f"{platform.release()}, {os.cpu_count()} cores; load average {load_before:.1f} before, "
        f"{load_after:.1f} after.",
        "",
        f"Command: `{command}` ({args.threads} client threads, keep-alive connections, on the same machine)",
        "",
        f"- {run.sent:,} requests in {seconds:.0f} s ({run.sent / seconds:,.0f}/s); statuses "
        + ", ".join(f"{status}: {count:,}" for status, count in sorted(run.statuses.items())),
        f"- answers other than the one expected: {sum(run.unexpected.values())}"
        + (f" ({dict(run.unexpected.most_common(5))})" if run.unexpected else ""),
        f"- tracebacks in the server's log: {traceback_lines}",
        f"- server RSS (MiB) by requests sent: {curve}",
        f"- RSS growth after the first 10,000 requests: {growth / 1024:.2f} MiB "
        f"(at 10k {base / 1024:.1f} MiB, at the end {final / 1024:.1f} MiB; the target: under 5 MiB)",
    ])
    print(text)
    if args.write:
        results = BENCH / "RESULTS.md"
        current = results.read_text()
        block = f"{BEGIN}\n{text}\n{END}"
        if BEGIN in current:
            current = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, current, flags=re.S)
        else:
            current += f"\n## Soak: 100,000 mixed requests, memory\n\n{block}\n"
        results.write_text(current)
    return 0 if growth < LIMIT_KIB and not run.unexpected and not traceback_lines else 1


if __name__ == "__main__":
    sys.exit(main())
