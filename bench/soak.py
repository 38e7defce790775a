"""Soak: 100,000 mixed requests against `mockauth serve`; does anything grow?

    python bench/soak.py                       # 100,000 requests, prints the figures
    python bench/soak.py --requests 20000      # a shorter run
    python bench/soak.py --write               # ... and records them in bench/RESULTS.md
    python bench/soak.py -- --state redis://127.0.0.1:6379/0   # the state in Redis

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
run reaches the state where tokens expire and are forgotten as fast as they are issued),
OAuth (the login page and its form, authorization codes exchanged with PKCE, silent
sign-ins with the session cookie, refresh, password and client_credentials grants) and
MFA logins (challenges answered with the development code of the mfa_required mode, and
challenges and change_tokens left unanswered, as users who walk away leave them).

Every answer's status is checked against what the request must get. The server's RSS
(VmRSS) is read every 5,000 requests, and with `--state redis://...` also Redis's
`used_memory` (INFO memory) and DBSIZE (so give it a Redis of its own); the figure that
matters is the growth after the first 10,000 (the journal full, the threads started),
which must stay under 5 MiB for each. Exit status 1 when it does not, or when any answer
was not the one expected.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import html
import http.client
import itertools
import json
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

BENCH = Path(__file__).resolve().parent
BEGIN, END = "<!-- bench/soak.py: begin -->", "<!-- bench/soak.py: end -->"
REDIS_BEGIN, REDIS_END = "<!-- bench/soak.py redis: begin -->", "<!-- bench/soak.py redis: end -->"
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
    # Reads the answer (status, body, headers) into the client's state; a sentence when
    # the answer, though of an expected status, is not the one it must be.
    then: Callable[[int, bytes, Message], str | None] | None = None


@dataclass
class Client:
    """One thread's connection and the tokens, codes and challenges it holds."""

    host: str
    port: int
    connection: http.client.HTTPConnection | None = None
    tokens: list[dict[str, str]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    used_refresh: list[str] = field(default_factory=list)
    pages: list[tuple[dict[str, str], str]] = field(default_factory=list)  # login form, PKCE verifier
    codes: list[tuple[str, str]] = field(default_factory=list)  # code, verifier
    sessions: list[str] = field(default_factory=list)  # the login page's session cookie
    oauth_refresh: list[str] = field(default_factory=list)
    mfa_tokens: list[str] = field(default_factory=list)

    def send(self, request: Request) -> tuple[int, bytes, Message]:
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
                return answer.status, data, answer.msg
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


KEEP = 20  # what a client holds of each kind: its latest few
REDIRECT = "http://127.0.0.1:9/cb"
BASIC = "Basic " + base64.b64encode(b"demo-client:demo-secret").decode()
_HIDDEN = re.compile(r'<input type=hidden name="([^"]*)" value="([^"]*)">')


def _keep(items: list[Any], item: Any) -> None:
    items.append(item)
    del items[:-KEEP]


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def _oauth(client: Client) -> list[Callable[[], Request | None]]:
    """OAuth: the login page and its form, codes exchanged, silent sign-ins, token grants."""
    token_headers = {"Content-Type": FORM, "Authorization": BASIC}

    def page() -> Request:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({
            "response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "state": "s",
            "scope": "openid profile", "code_challenge": challenge, "code_challenge_method": "S256",
        })

        def then(status: int, data: bytes, headers: Message) -> str | None:
            fields = {html.unescape(n): html.unescape(v) for n, v in _HIDDEN.findall(data.decode())}
            _keep(client.pages, (fields, verifier))
            return None if fields else "no form on the login page"

        return Request("GET", "/oauth/authorize?" + query, (200,), then=then)

    def code_back(status: int, data: bytes, headers: Message, verifier: str) -> str | None:
        query = parse_qs(urlsplit(headers.get("Location", "")).query)
        if "code" in query:
            _keep(client.codes, (query["code"][0], verifier))
            return None
        return f"no code: {query.get('error')}"

    def sign_in() -> Request | None:
        if not client.pages:
            return None
        fields, verifier = client.pages.pop()
        body = _form({**fields, "username": "admin", "password": "adminpassword"})

        def then(status: int, data: bytes, headers: Message) -> str | None:
            cookie = headers.get("Set-Cookie", "").split(";")[0]
            if cookie:
                _keep(client.sessions, cookie)
            return code_back(status, data, headers, verifier)

        return Request("POST", "/oauth/authorize", (303,), {"Content-Type": FORM}, body, then)

    def silent() -> Request | None:
        if not client.sessions:
            return None
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({
            "response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "prompt": "none",
            "code_challenge": challenge, "code_challenge_method": "S256",
        })

        def then(status: int, data: bytes, headers: Message) -> str | None:
            back = parse_qs(urlsplit(headers.get("Location", "")).query)
            if back.get("error") == ["login_required"]:  # the session ended on the mock's clock
                return None
            return code_back(status, data, headers, verifier)

        return Request("GET", "/oauth/authorize?" + query, (302,), {"Cookie": client.sessions[-1]}, then=then)

    def refresh_from(status: int, data: bytes, headers: Message) -> str | None:
        if status == 200:
            _keep(client.oauth_refresh, json.loads(data)["refresh_token"])
        return None

    def exchange() -> Request | None:
        if not client.codes:
            return None
        code, verifier = client.codes.pop(0)
        body = _form({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                      "code_verifier": verifier})
        # 400: the clock moved on an hour since the code was issued (it lives a minute).
        return Request("POST", "/oauth/token", (200, 400), token_headers, body, refresh_from)

    def refresh() -> Request | None:
        if not client.oauth_refresh:
            return None
        body = _form({"grant_type": "refresh_token", "refresh_token": client.oauth_refresh.pop(0)})
        return Request("POST", "/oauth/token", (200, 400), token_headers, body, refresh_from)

    def password() -> Request:
        body = _form({"grant_type": "password", "username": "admin", "password": "adminpassword"})
        return Request("POST", "/oauth/token", (200,), token_headers, body, refresh_from)

    def client_credentials() -> Request:
        return Request("POST", "/oauth/token", (200,), token_headers, _form({"grant_type": "client_credentials"}))

    return [page, sign_in, silent, exchange, refresh, password, client_credentials]


def _mfa(client: Client) -> list[Callable[[], Request | None]]:
    """MFA logins answered with the mfa_required mode's development code, and challenges
    left unanswered (a TOTP user's, an expired password's)."""

    def challenged() -> Request:
        def then(status: int, data: bytes, headers: Message) -> str | None:
            _keep(client.mfa_tokens, json.loads(data)["mfa_token"])
            return None

        headers = {"Content-Type": FORM, "X-Mockauth-Mode": "mfa_required"}
        return Request("POST", "/auth/login", (403,), headers, LOGIN.encode(), then)

    def answer() -> Request | None:
        if not client.mfa_tokens:
            return None
        body = _form({"mfa_token": client.mfa_tokens.pop(0), "code": "123456"})
        # 401: the clock moved on an hour since the challenge (it lives five minutes).
        return Request("POST", "/auth/mfa", (200, 401), {"Content-Type": FORM}, body)

    def walk_away(username: str) -> Callable[[], Request]:
        body = _form({"username": username, "password": "secretpassword"})
        return lambda: Request("POST", "/auth/login", (403,), {"Content-Type": FORM}, body)

    return [challenged, answer, walk_away("mfa@example.com"), walk_away("expired@example.com")]


class RedisReader:
    """Redis's memory and key count, for a soak whose state is in Redis."""

    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)

    def read(self) -> tuple[int, int]:
        """(used_memory in KiB, DBSIZE)."""
        return int(self.redis.info("memory")["used_memory"]) // 1024, int(self.redis.dbsize())


def _state_url(flags: list[str]) -> str | None:
    for at, flag in enumerate(flags):
        if flag == "--state" and at + 1 < len(flags):
            return flags[at + 1]
        if flag.startswith("--state="):
            return flag.split("=", 1)[1]
    return None


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
    redis_samples: list[tuple[int, int, int]] = field(default_factory=list)  # (requests, KiB, keys)
    lock: threading.Lock = field(default_factory=threading.Lock)


def soak(total: int, threads: int, flags: list[str], log: Path) -> tuple[Run, float]:
    port = _free_port()
    state = _state_url(flags)
    redis = RedisReader(state) if state and state.startswith("redis") else None
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
            kinds: list[Callable[[], Request | None]] = [*plain, *stateful, *_oauth(client), *_mfa(client)]
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
                status, data, headers = client.send(request)
                if request.path == "/auth/login" and status == 200:
                    client.tokens.append(json.loads(data))
                    del client.tokens[:-KEEP]  # a client keeps its latest few
                if request.path == "/auth/refresh" and status == 200:
                    client.tokens.append(json.loads(data))
                del client.revoked[:-KEEP]
                del client.used_refresh[:-KEEP]
                wrong = f"-> {status}" if status not in request.expected else None
                if wrong is None and request.then is not None:
                    wrong = request.then(status, data, headers)
                with run.lock:
                    run.statuses[status] += 1
                    if wrong is not None:
                        run.unexpected[f"{request.method} {request.path.split('?')[0][:40]} {wrong}"] += 1
                if sample:
                    rss = _rss_kib(server.pid)
                    redis_reading = redis.read() if redis is not None else None
                    with run.lock:
                        run.samples.append((number, rss))
                        if redis_reading is not None:
                            run.redis_samples.append((number, *redis_reading))

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        seconds = time.monotonic() - started
        run.samples.sort()
        run.redis_samples.sort()
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
    growth, rss_lines = _growth("server RSS", [(n, rss) for n, rss in run.samples])
    redis_growth, redis_lines = 0, []
    if run.redis_samples:
        redis_growth, redis_lines = _growth("Redis used_memory", [(n, kib) for n, kib, _ in run.redis_samples])
        keys = ", ".join(f"{n // 1000}k: {count:,}" for n, _, count in run.redis_samples)
        redis_lines.append(f"- Redis DBSIZE by requests sent: {keys}")
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
        *rss_lines,
        *redis_lines,
    ])
    print(text)
    if args.write:
        store = "redis" if run.redis_samples else "memory"
        begin, end = (BEGIN, END) if store == "memory" else (REDIS_BEGIN, REDIS_END)
        results = BENCH / "RESULTS.md"
        current = results.read_text()
        block = f"{begin}\n{text}\n{end}"
        if begin in current:
            current = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, current, flags=re.S)
        else:
            current += f"\n## Soak: 100,000 mixed requests, {store}\n\n{block}\n"
        results.write_text(current)
    grown = growth >= LIMIT_KIB or redis_growth >= LIMIT_KIB
    return 0 if not grown and not run.unexpected and not traceback_lines else 1


def _growth(what: str, samples: list[tuple[int, int]]) -> tuple[int, list[str]]:
    """The growth (KiB) after the first 10,000 requests, and the lines that show it."""
    base = next(kib for n, kib in samples if n >= 10_000)
    growth = max(kib for n, kib in samples if n >= 10_000) - base
    curve = ", ".join(f"{n // 1000}k: {kib / 1024:.1f}" for n, kib in samples)
    return growth, [
        f"- {what} (MiB) by requests sent: {curve}",
        f"- {what} growth after the first 10,000 requests: {growth / 1024:.2f} MiB "
        f"(at 10k {base / 1024:.1f} MiB, at the end {samples[-1][1] / 1024:.1f} MiB; the target: under 5 MiB)",
    ]


if __name__ == "__main__":
    sys.exit(main())
