from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib
import itertools
import os
import pkgutil
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from werkzeug.test import Client, TestResponse

import mockauth
from mockauth import MockAuth

# The plugin imports the mock only when a test asks for it, so a pytester run in this
# process may be the first to import a module of mockauth; pytester then drops it from
# sys.modules while the package keeps it as an attribute, and a later test patching
# "mockauth.x.y" patches that stale copy, not the one the code imports. PyYAML, imported
# only for a document not in the cache of parsed YAML, cannot be imported twice at all
# (its C extension keeps the first copy's classes). So every module of mockauth, and
# PyYAML, is imported here, before any pytester run takes its snapshot of sys.modules.
for _module in pkgutil.walk_packages(mockauth.__path__, "mockauth."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)
importlib.import_module("yaml")

USER = "user@example.com"
PASSWORD = "secretpassword"


@pytest.fixture(scope="session", autouse=True)
def mockauth_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mockauth's data folder (its local CA) for this run, never the real one in your
    home; set in the environment, so the mockauth commands the tests start use it too."""
    folder = tmp_path_factory.mktemp("mockauth-data")
    os.environ["MOCKAUTH_DATA_DIR"] = str(folder)
    # The cache of parsed YAML too (README, "Command line").
    os.environ["MOCKAUTH_CACHE_DIR"] = str(tmp_path_factory.mktemp("mockauth-cache"))
    return folder


# A suite that pytester runs in this process drops every module it imported first (it
# restores sys.modules), and httpx imports httpcore only when its first transport is made,
# keeping httpcore's exception classes for good: a run against --mockauth-target that made
# the first one left httpx mapping the classes of a dropped copy, and a later test's
# RemoteProtocolError came through unmapped. Imported here, before any pytester run.
with contextlib.suppress(ImportError):
    import httpcore  # noqa: F401


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, with pytest-asyncio's loop scope set for the suites it runs: they have no
    ini that sets it, and pytest-asyncio (a test extra) warns in every session without."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
    return pytester


def login(client: Client, username: str = USER, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
    return client.post("/auth/login", data={"username": username, "password": password}, **kwargs)


def send_code(client: Client, mfa_token: str, code: str) -> TestResponse:
    """The second step of a challenged login: the one-time code."""
    return client.post("/auth/mfa", data={"mfa_token": mfa_token, "code": code})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rfc6238(secret: bytes, at: float, digits: int = 6) -> str:
    """TOTP written out from RFC 4226 5.3 and RFC 6238 4 (SHA-1, 30 s), independent of pyotp."""
    digest = hmac.new(secret, int(at // 30).to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def assert_error(response: TestResponse, status: int, error: str) -> dict[str, Any]:
    """The response is the spec's JSON error with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body


class IssuedToken:
    """A schemathesis auth provider: a bearer token the mock issued, as every client
    holds one. Left to itself, schemathesis sends any header text after 'Bearer ', and a
    Bearer header that is not a b64token is a malformed request (400 invalid_request,
    RFC 6750 3.1), not a token refused. Give it the mock: ``IssuedToken.of(auth)``."""

    auth: MockAuth

    @classmethod
    def of(cls, auth: MockAuth) -> type[IssuedToken]:
        return type("IssuedToken", (cls,), {"auth": auth})

    def get(self, case: Any, context: Any) -> str:
        return self.auth.issue_token(USER)

    def set(self, case: Any, data: str, context: Any) -> None:
        from mockauth._state.tokens import decode_unverified

        headers = dict(case.headers or {})
        carried = str(headers.get("Authorization", "")).partition(" ")[2]
        if decode_unverified(carried)[1] is None:  # not a token a link carried (login -> me)
            headers["Authorization"] = f"Bearer {data}"
        case.headers = headers


# -- state stores ----------------------------------------------------------------------
#
# A module that sets STORES = ("memory", "redis", "redis-pair") runs each of its tests
# that uses `auth` once per store: "redis" is a real redis-server started for the
# session on a free loopback port; "redis-pair" also answers every other request of
# `client` from a second MockAuth sharing the same Redis namespace, as a second process
# would.


def redis_unavailable(reason: str) -> NoReturn:
    """Skip, with the reason, when Redis truly cannot run here; under CI, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def end_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Ask a child process to stop, and kill it if it has not within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class RedisServer:
    """A throwaway redis-server on 127.0.0.1, nothing saved to disk."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            redis_unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                redis_unavailable(f"redis-server exited at start with status {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        redis_unavailable(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process, 5)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    server = RedisServer().start()
    yield server.url
    server.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    stores = getattr(metafunc.module, "STORES", None)
    if stores and "state" in metafunc.fixturenames:
        metafunc.parametrize("state", stores, indirect=True)


@pytest.fixture
def state(request: pytest.FixtureRequest) -> str:
    """Which store `auth` uses: memory unless the module asks for more (STORES)."""
    return str(getattr(request, "param", "memory"))


def new_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def auth(state: str, request: pytest.FixtureRequest) -> Iterator[MockAuth]:
    if state == "memory":
        yield MockAuth.from_fixtures()
        return
    auth = MockAuth.from_fixtures(state=request.getfixturevalue("redis_url"), state_namespace=new_namespace())
    yield auth
    auth.stores.close()


class Alternate:
    """A WSGI app that hands requests to its apps in turn, like a balancer."""

    def __init__(self, *apps: Any) -> None:
        self.apps = apps
        self.turn = itertools.count()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            app = self.apps[next(self.turn) % len(self.apps)]
        return app(environ, start_response)


@pytest.fixture
def client(auth: MockAuth, state: str) -> Iterator[Client]:
    if state != "redis-pair":
        yield auth.test_client()
        return
    twin = MockAuth.from_fixtures(state=auth.settings.state, state_namespace=auth.settings.state_namespace)
    assert not twin.seeded  # it joined the state `auth` seeded
    yield Client(Alternate(auth.app, twin.app))
    twin.stores.close()
