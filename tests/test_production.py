"""`mockauth serve --workers N` on gunicorn, side by side with the default Werkzeug server:
every operation and every mode answers the same, SIGINT and SIGTERM stop both cleanly,
and the CLI refuses what per-worker state would silently get wrong."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from mockauth import MODES

pytest.importorskip("gunicorn")

USER, PASSWORD = "user@example.com", "secretpassword"
CREDENTIALS = {"username": USER, "password": PASSWORD}
START_TIMEOUT = 30.0


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    lines: queue.Queue[str]
    reader: threading.Thread


def _reader(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)


def start(*flags: str) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockauth", "serve", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_reader, args=(process, lines), daemon=True)
    reader.start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert process.poll() is None, (
                f"mockauth serve {flags} exited with {process.returncode}"
            )
            continue
        found = re.search(r"serving (http://\S+)", line)
        if found:
            return Served(process, found.group(1), lines, reader)
    process.kill()
    process.wait(10)
    reader.join(5)
    assert process.stdout is not None
    process.stdout.close()
    raise AssertionError(f"mockauth serve {flags} printed no URL within {START_TIMEOUT} s")


def stop(served: Served, sig: signal.Signals = signal.SIGINT) -> str:
    """Send `sig`, wait at most 15 s; returns what the server printed after the banner."""
    served.process.send_signal(sig)
    try:
        code = served.process.wait(15)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(10)
        code = -1
    served.reader.join(5)  # the pipe is at its end once the server is gone
    assert served.process.stdout is not None
    served.process.stdout.close()
    assert code != -1, f"the server did not stop within 15 s of {sig.name}"
    printed = []
    while not served.lines.empty():
        printed.append(served.lines.get())
    assert code == 0, f"exit status {code} after {sig.name}"
    return "".join(printed)


SERVERS = {
    "werkzeug": (),
    "gunicorn": ("--workers", "2", "--accept-per-worker-state"),
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    server = start(*SERVERS[request.param])
    yield server
    if server.process.poll() is None:
        stop(server)


def test_every_api_operation_answers(served: Served) -> None:
    with requests.Session() as session:  # one kept-alive connection: one worker
        login = session.post(served.url + "/auth/login", data=CREDENTIALS, timeout=10)
        assert login.status_code == 200
        tokens = login.json()
        assert tokens["token_type"] == "bearer"
        assert tokens["access_token"].count(".") == 2
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = session.get(served.url + "/auth/me", headers=bearer, timeout=10)
        assert me.status_code == 200
        assert me.json()["sub"] == USER
        refresh = session.post(
            served.url + "/auth/refresh",
            data={"refresh_token": tokens["refresh_token"]},
            timeout=10,
        )
        assert (
            refresh.status_code == 200
        )
        assert (
            refresh.json()["refresh_token"] != tokens["refresh_token"]
        )
        assert (
            session.post(served.url + "/auth/logout", headers=bearer, timeout=10).status_code == 204
        )
        assert session.get(served.url + "/auth/me", headers=bearer, timeout=10).status_code == 401
    for path in (
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/health",
        "/openapi.yaml",
        "/_mockauth/",
        "/_mockauth/state",
        "/_mockauth/journal",
    ):
        assert requests.get(served.url + path, timeout=10).status_code == 200, path
    wrong = requests.post(
        served.url + "/auth/login", data={**CREDENTIALS, "password": "x"}, timeout=10
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_credentials"
    assert requests.get(served.url + "/nowhere", timeout=10).status_code == 404


# What each mode answers on login, through the X-Mockauth-Mode header.
EXPECTED = {
    "invalid_credentials": (401, "invalid_credentials"),
    "expired_token": (200, None),
    "account_locked": (403, "account_locked"),
    "account_disabled": (403, "account_disabled"),
    "rate_limited": (429, "rate_limited"),
    "server_error": (500, "server_error"),
    "unavailable": (503, "temporarily_unavailable"),
    "slow:delay=0.2": (200, None),
    "malformed_response": (200, None),
    "incomplete_response": (200, None),
    "mfa_required": (403, "mfa_required"),
    "password_expired": (403, "password_expired"),
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_every_login_mode_answers_the_same(served: Served, mode: str) -> None:
    started = time.monotonic()
    response = requests.post(
        served.url + "/auth/login", data=CREDENTIALS, headers={"X-Mockauth-Mode": mode}, timeout=10
    )
    status, error = EXPECTED[mode]
    assert response.status_code == status, response.text
    if error is not None:
        assert response.json()["error"] == error
    if mode in ("rate_limited", "unavailable"):
        assert response.headers["Retry-After"] == "30"
    if mode == "expired_token":
        assert response.json()["expires_in"] < 0
    if mode.startswith("slow"):
        assert time.monotonic() - started >= 0.2
    if mode == "malformed_response":
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
    if mode == "incomplete_response":
        assert "access_token" not in response.json()


def test_the_modes_table_is_covered() -> None:
    login_modes = {name for name, mode in MODES.items() if "login" in mode.operations}
    assert {name.split(":")[0] for name in EXPECTED} | {"disconnect"} == login_modes


def test_disconnect_closes_with_no_response(served: Served) -> None:
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    body = b"username=user%40example.com&password=secretpassword"
    request = (
        b"POST /auth/login HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nX-Mockauth-Mode: disconnect\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            answer = b""
    assert answer == b""
    # The server is still there for the next request.
    assert (
        requests.post(served.url + "/auth/login", data=CREDENTIALS, timeout=10).status_code == 200
    )


def test_control_changes_are_refused_only_with_several_workers(served: Served) -> None:
    reset = requests.post(served.url + "/_mockauth/reset", timeout=10)
    issued = requests.post(served.url + "/_mockauth/tokens", json={"username": USER}, timeout=10)
    assert issued.status_code == 201
    if "gunicorn" in served_kind(served):
        assert reset.status_code == 409
        body = reset.json()
        assert body["error"] == "per_worker_state"
        assert "--workers 1" in body["error_description"]
        arm = requests.post(
            served.url + "/_mockauth/modes", json={"name": "server_error"}, timeout=10
        )
        assert arm.status_code == 409
    else:
        assert reset.status_code == 200


def served_kind(served: Served) -> str:
    return "gunicorn" if "--workers" in served.process.args else "werkzeug"  # type: ignore[operator]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(
    "flags", [(), ("--workers", "2", "--accept-per-worker-state")], ids=["werkzeug", "gunicorn"]
)
def test_stops_cleanly(sig: signal.Signals, flags: tuple[str, ...]) -> None:
    server = start(*flags)
    assert requests.get(server.url + "/health", timeout=10).status_code == 200
    assert "mockauth: stopped" in stop(server, sig)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/health", timeout=2)


def test_workers_1_allows_control_changes() -> None:
    server = start("--workers", "1")
    try:
        assert requests.post(server.url + "/_mockauth/reset", timeout=10).status_code == 200
        assert (
            requests.post(server.url + "/auth/login", data=CREDENTIALS, timeout=10).status_code
            == 200
        )
    finally:
        stop(server)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockauth", *args], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("serve", "--workers", "2"), "--accept-per-worker-state"),
        (("serve", "--workers", "0"), "at least 1"),
        (("serve", "--threads", "2"), "--threads applies only with --workers"),
        (("serve", "--accept-per-worker-state"), "applies only with --workers"),
        (("serve", "--workers", "1", "--watch"), "--watch works only without --workers"),
        (
            (
                "serve",
                "--workers",
                "2",
                "--accept-per-worker-state",
                "--mode",
                "rate_limited:times=2",
            ),
            "each worker would count",
        ),
    ],
)
def test_cli_refuses(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_the_serve_path_imports_no_heavy_module() -> None:
    code = (
        "import sys, mockauth._cli as cli\n"
        "args = cli.build_parser().parse_args(['serve'])\n"
        "cli.common.load(args)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    loaded = set(result.stdout.split())
    assert "mockauth" in loaded
    heavy = {"schemathesis", "hypothesis", "httpx", "responses", "requests", "gunicorn", "pytest"}
    assert loaded & heavy == set()
