"""The live server over real sockets on 127.0.0.1: requests, curl and raw sockets."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests
from conftest import PASSWORD, USER

from mockauth import MODES, ConfigError, MockAuth, Server, ServerError
from mockauth._settings import DEFAULT_SECRET

# Each test that uses `auth` runs on both stores (see conftest.py).
STORES = ("memory", "redis")


@pytest.fixture
def live(auth: MockAuth) -> Iterator[str]:
    with auth.serve() as server:
        yield server.url


def post_login(url: str, username: str = USER, password: str = PASSWORD, **kwargs: object) -> requests.Response:
    return requests.post(url + "/auth/login", data={"username": username, "password": password}, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_full_flow_with_requests(live: str) -> None:
    tokens = post_login(live).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.get(live + "/auth/me", headers=headers, timeout=10).json()["sub"] == USER
    rotated = requests.post(live + "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, timeout=10)
    assert rotated.status_code == 200
    assert requests.post(live + "/auth/logout", headers=headers, timeout=10).status_code == 204
    refused = requests.get(live + "/auth/me", headers=headers, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_original_documents_curl_example(live: str) -> None:
    result = subprocess.run(
        ["curl", "-s", "-X", "POST", f"{live}/auth/login", "-d", "username=user@example.com", "-d", "password=secretpassword"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    body = json.loads(result.stdout)
    assert body["token_type"] == "bearer"
    claims = jwt.decode(body["access_token"], DEFAULT_SECRET, algorithms=["HS256"], audience="mockauth")
    assert claims["sub"] == "user@example.com"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_mode_header_from_curl(live: str) -> None:
    result = subprocess.run(
        ["curl", "-s", "-i", "-H", "X-Mockauth-Mode: rate_limited", "-X", "POST", f"{live}/auth/login",
         "-d", "username=user@example.com", "-d", "password=secretpassword"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    head, _, body = result.stdout.partition("\n\n")  # text mode folds \r\n
    assert head.startswith("HTTP/1.1 429")
    assert "Retry-After: 30" in head
    assert json.loads(body)["error"] == "rate_limited"


def test_control_api_makes_two_logins_fail_then_one_succeed(live: str) -> None:
    armed = requests.post(live + "/_mockauth/modes", json={"name": "unavailable", "operation": "login", "times": 2}, timeout=10)
    assert armed.status_code == 201
    statuses = [post_login(live).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_advancing_the_clock_expires_the_token(live: str, auth: MockAuth) -> None:
    token = post_login(live).json()["access_token"]
    requests.post(live + "/_mockauth/clock", json={"action": "advance", "seconds": auth.settings.access_token_lifetime}, timeout=10)
    answer = requests.get(live + "/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"] == "token_expired"


SCOPES = ["everywhere", "operation", "user", "times", "header", "probability"]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("name", sorted(n for n in MODES if n != "disconnect"))
def test_every_mode_under_every_scope_over_http(live: str, auth: MockAuth, name: str, scope: str) -> None:
    mode = MODES[name]
    operation = "login" if "login" in mode.operations else "me"
    token = auth.issue_token(USER)
    options = {"delay": 0.05} if name == "slow" else {}
    headers: dict[str, str] = {}
    if scope == "header":
        headers["X-Mockauth-Mode"] = name + "".join(f":{k}={v}" for k, v in options.items())
    else:
        scoped = {
            "everywhere": {}, "operation": {"operation": operation}, "user": {"user": USER},
            "times": {"times": 1}, "probability": {"probability": 1.0, "seed": 1},
        }[scope]
        auth.fail(name, **scoped, **options)

    def send() -> requests.Response:
        if operation == "login":
            return post_login(live, headers=headers)
        return requests.get(live + "/auth/me", headers={"Authorization": f"Bearer {token}", **headers}, timeout=10)

    response = send()
    if mode.effect == "error" or (mode.effect == "expire" and operation != "login"):
        assert response.status_code == mode.status
        assert response.json()["error"] == mode.error
        for header in mode.option_headers:
            assert response.headers[header] == "30"
    elif mode.effect == "malformed":
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        with pytest.raises(requests.JSONDecodeError):
            response.json()
    elif mode.effect == "incomplete":
        assert response.status_code == 200 and "access_token" not in response.json()
    elif mode.effect == "expire":
        assert response.json()["expires_in"] < 0
    elif mode.effect == "challenge":
        assert (response.status_code, response.json()["error"]) == (403, mode.error)
    else:
        assert response.status_code == 200 and auth.journal.entries()[-1].modes == ("slow",)
    if scope in ("times", "header"):  # used up, or never armed: the next request is normal
        headers.clear()
        assert send().status_code == 200


def test_disconnect_closes_the_socket_without_a_response(live: str, auth: MockAuth) -> None:
    auth.fail("disconnect", times=2)
    with pytest.raises(requests.ConnectionError):
        post_login(live)
    host, port = live.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(1024) == b""  # closed, not a single byte of answer
    assert post_login(live).status_code == 200  # and the server keeps serving


def test_times_is_exact_with_32_threads(live: str, auth: MockAuth) -> None:
    auth.fail("rate_limited", operation="login", times=7)
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: post_login(live).status_code, range(96)))
    assert statuses.count(429) == 7
    assert statuses.count(200) == 89


def test_chunked_body_over_the_limit_over_a_socket() -> None:
    auth = MockAuth.from_fixtures(max_body_size=256)
    with auth.serve() as server:
        body = ("username=" + USER + "&password=" + PASSWORD + "&pad=" + "x" * 1000).encode()
        response = requests.post(
            server.url + "/auth/login", data=iter([body[:300], body[300:]]),
            headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10,
        )
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"
        small = requests.post(server.url + "/auth/login", data=iter([b"username=" + USER.encode(), b"&password=" + PASSWORD.encode()]),
                              headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
        assert small.status_code == 200


def test_a_bug_inside_the_server_is_raised_in_the_test(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(app: object, call: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setitem(auth.app.handlers, "health", broken)
    auth.log_stream = open(os.devnull, "w")  # noqa: SIM115
    server = auth.serve().start()
    response = requests.get(server.url + "/health", timeout=10)
    assert response.status_code == 500 and response.json()["error"] == "server_error"
    with pytest.raises(ServerError, match="kaput"):
        server.stop()
    auth.log_stream.close()


def test_port_in_use_is_a_clear_error(auth: MockAuth) -> None:
    with auth.serve() as server, pytest.raises(ServerError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        Server(auth.app, port=server.port).start()


@pytest.mark.parametrize("port", [99999, -1, "8765"])
def test_a_port_that_is_no_port_is_a_config_error(auth: MockAuth, port: object) -> None:
    # getaddrinfo() took 99999 for 34463, and -1 for "Unknown error -8"
    with pytest.raises(ConfigError, match="port: expected a whole number from 0 to 65535"), auth.serve(port=port):  # type: ignore[arg-type]
        pass


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda auth: auth.serve(host=5), "host: expected an address or a name"),
        (lambda auth: auth.intercept("auth.example.test"), "base_url: expected an http:// or https:// URL"),
        (lambda auth: auth.httpx_transport(base_url="no url"), "base_url: expected an http://"),
        (lambda auth: MockAuth(spec=5), "spec: expected the path of an OpenAPI document, got the number 5"),
        (lambda auth: auth.fail(5), "a mode is named by text"),
        (lambda auth: auth.client_token("demo-client", scope=5), "scope: expected space-separated scopes"),
        (lambda auth: auth.client_token("demo-client", expires_in="x"), "expires_in: must be a whole number"),
        (lambda auth: auth.client_token("demo-client", expires_in=10**12), "expires_in: must be a whole number"),
    ],
)
def test_arguments_of_the_wrong_kind_are_a_config_error(call: Any, words: str) -> None:
    # Each was an AttributeError or TypeError from deep inside, or (intercept) silence.
    with pytest.raises(ConfigError, match=re.escape(words)):
        call(MockAuth.from_fixtures())


def test_a_host_that_does_not_resolve_is_one_line() -> None:
    auth = MockAuth.from_fixtures(algorithm="ES256")  # off loopback, the default secret is refused first
    with pytest.raises(ServerError, match=r"cannot listen on nowhere.invalid:0: 'nowhere.invalid' does not resolve \("):
        auth.serve(host="nowhere.invalid").start()


def test_url_before_start_is_a_clear_error(auth: MockAuth) -> None:
    with pytest.raises(ServerError, match="not running"):
        _ = auth.serve().url


def test_access_log_lines_go_out_in_order_a_moment_later(capsys: pytest.CaptureFixture[str]) -> None:
    from mockauth._doors.live import log_access

    # Paths of this test's own: a line another test left waiting may go out meanwhile.
    for n in range(5):
        log_access("127.0.0.1", f"GET /order-{n} HTTP/1.1", 200, "-")
    ours: list[str] = []
    deadline = time.monotonic() + 5
    while len(ours) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
        ours += [line for line in capsys.readouterr().err.splitlines() if "/order-" in line]
    assert [line.split('"')[1] for line in ours] == [f"GET /order-{n} HTTP/1.1" for n in range(5)]


def test_a_crowded_access_log_is_written_at_once_and_a_stopping_server_writes_the_rest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past MAX_WAITING lines (stderr not keeping up) the request threads write themselves,
    # so what waits stays bounded; a stopping server writes what is left.
    from mockauth._doors import live

    log = live._AccessLog()
    monkeypatch.setattr(log, "MAX_WAITING", 3)
    monkeypatch.setattr(log, "FLUSH_AFTER", 60.0)
    for n in range(3):
        log.add(f"line {n}\n")
    assert capsys.readouterr().err == "line 0\nline 1\nline 2\n"
    log.add("line 3\n")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(live, "_access_log", log)
    live.flush_access_log()
    assert capsys.readouterr().err == "line 3\n"
