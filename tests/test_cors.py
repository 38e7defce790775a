"""CORS at the HTTP level, over a real socket: every operation answers a browser's
preflight and carries the CORS headers on its answer; other origins get none."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from mockauth import ConfigError, FixtureError, MockAuth, Settings, default_spec_path, load_fixtures
from mockauth._spec import load_spec

DEV_ORIGIN = "http://localhost:5173"
REQUESTED_HEADERS = "authorization, content-type, x-mockauth-mode"
OPERATIONS = load_spec(default_spec_path()).operations


@pytest.fixture(scope="module")
def auth() -> MockAuth:
    return MockAuth.from_fixtures()


@pytest.fixture(scope="module")
def url(auth: MockAuth) -> Iterator[str]:
    with auth.serve() as server:
        yield server.url


@pytest.fixture(autouse=True)
def _fresh(auth: MockAuth) -> None:
    auth.reset()


def _path(template: str) -> str:
    return re.sub(r"\{\w+\}", "1", template)


def preflight(url: str, path: str, method: str, origin: str = DEV_ORIGIN) -> requests.Response:
    return requests.options(
        url + path,
        timeout=10,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": REQUESTED_HEADERS,
        },
    )


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_every_operation_answers_a_preflight(url: str, operation: object) -> None:
    method, path = operation.method, _path(operation.path)  # type: ignore[attr-defined]
    answer = preflight(url, path, method)
    assert answer.status_code == 204, answer.text
    headers = answer.headers
    assert headers["Access-Control-Allow-Origin"] == DEV_ORIGIN
    assert method in headers["Access-Control-Allow-Methods"].split(", ")
    allowed = headers["Access-Control-Allow-Headers"].lower().split(", ")
    assert {"authorization", "content-type", "x-mockauth-mode"} <= set(allowed)
    assert "Origin" in headers["Vary"]
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert method in headers["Allow"].split(", ")


API_CALLS = [
    (
        "login",
        "POST",
        "/auth/login",
        {"data": {"username": "user@example.com", "password": "secretpassword"}},
        200,
    ),
    ("refresh", "POST", "/auth/refresh", {"data": {"refresh_token": "unknown"}}, 401),
    ("me", "GET", "/auth/me", {}, 401),
    ("logout", "POST", "/auth/logout", {}, 401),
    ("jwks", "GET", "/.well-known/jwks.json", {}, 200),
    ("openid_configuration", "GET", "/.well-known/openid-configuration", {}, 200),
    ("health", "GET", "/health", {}, 200),
    ("control_state", "GET", "/_mockauth/state", {}, 200),
    (
        "control_arm_mode",
        "POST",
        "/_mockauth/modes",
        {"json": {"name": "slow", "options": {"delay": 0}}},
        201,
    ),
]


@pytest.mark.parametrize(("operation", "method", "path", "extra", "status"), API_CALLS, ids=[c[0] for c in API_CALLS])
def test_answers_carry_cors_headers_for_an_allowed_origin(
    url: str, operation: str, method: str, path: str, extra: dict[str, object], status: int
) -> None:
    answer = requests.request(method, url + path, headers={"Origin": DEV_ORIGIN}, timeout=10, **extra)  # type: ignore[arg-type]
    assert answer.status_code == status, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    exposed = answer.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"Retry-After", "WWW-Authenticate"} <= set(exposed)


def test_error_headers_reach_the_page(url: str, auth: MockAuth) -> None:
    # What a page reads from an error: Retry-After on a 429, WWW-Authenticate on a 401.
    auth.fail("rate_limited", operation="login", times=1, retry_after=12)
    limited = requests.post(
        url + "/auth/login",
        data={"username": "u", "password": "p"},
        headers={"Origin": DEV_ORIGIN},
        timeout=10,
    )
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "12"
    assert "Retry-After" in limited.headers["Access-Control-Expose-Headers"]
    refused = requests.get(
        url + "/auth/me",
        headers={"Origin": DEV_ORIGIN, "Authorization": "Bearer x.y.z"},
        timeout=10,
    )
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.headers["Access-Control-Allow-Origin"] == DEV_ORIGIN


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:3000",
        "http://localhost:8080",
        "http://[::1]:5173",
        "http://localhost",
    ],
)
def test_the_default_allows_any_local_dev_server(url: str, origin: str) -> None:
    assert preflight(url, "/auth/me", "GET", origin).headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example:80",
        "https://localhost:5173",
        "null",
    ],
)
def test_a_disallowed_origin_gets_no_cors_headers(url: str, auth: MockAuth, origin: str) -> None:
    answer = preflight(url, "/auth/login", "POST", origin)
    assert answer.status_code == 403
    assert answer.json()["error"] == "origin_not_allowed"
    assert "--cors-origins" in answer.json()["error_description"]
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
    # A simple request is still answered (the browser hides it from the page), bare.
    simple = requests.get(url + "/health", headers={"Origin": origin}, timeout=10)
    assert simple.status_code == 200
    assert not [h for h in simple.headers if h.lower().startswith("access-control-")]
    assert ("OPTIONS", "/auth/login", 403) in [(e.method, e.path, e.status) for e in auth.journal]


def test_options_without_a_preflight_and_on_unknown_paths(url: str) -> None:
    plain = requests.options(url + "/auth/login", timeout=10)
    assert plain.status_code == 204
    assert plain.headers["Allow"] == "OPTIONS, POST"
    assert "Access-Control-Allow-Origin" not in plain.headers
    missing = requests.options(
        url + "/nowhere",
        headers={"Origin": DEV_ORIGIN, "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    # Without the trailing slash, as GET accepts it.
    dashboard = requests.options(url + "/_mockauth", timeout=10)
    assert dashboard.status_code == 204
    assert dashboard.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_a_private_network_preflight_is_allowed(url: str) -> None:
    answer = requests.options(
        url + "/auth/me",
        timeout=10,
        headers={
            "Origin": DEV_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert answer.headers["Access-Control-Allow-Private-Network"] == "true"


def test_extra_request_headers_a_page_sends_are_allowed(url: str) -> None:
    answer = requests.options(
        url + "/auth/me",
        timeout=10,
        headers={
            "Origin": DEV_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,x-request-id",
        },
    )
    assert "x-request-id" in answer.headers["Access-Control-Allow-Headers"].split(", ")


def test_configured_origins_replace_the_default() -> None:
    auth = MockAuth(cors_origins=["https://app.example.test", "https://*.preview.example.test"])
    client = auth.test_client()

    def allowed(origin: str) -> bool:
        answer = client.get("/health", headers={"Origin": origin})
        return answer.headers.get("Access-Control-Allow-Origin") == origin

    assert allowed("https://app.example.test")
    assert allowed("https://pr-12.preview.example.test")
    assert not allowed("http://localhost:5173")
    assert not allowed("https://app.example.test.evil.example")
    assert allowed("http://anything.example") is False
    everyone = MockAuth(cors_origins="*").test_client()
    assert (
        everyone.get("/health", headers={"Origin": "https://x.example"}).headers["Access-Control-Allow-Origin"]
        == "https://x.example"
    )
    nobody = MockAuth(cors_origins="").test_client()
    assert "Access-Control-Allow-Origin" not in nobody.get("/health", headers={"Origin": DEV_ORIGIN}).headers


def test_the_refused_origin_is_logged_once(capsys: pytest.CaptureFixture[str]) -> None:
    auth = MockAuth()
    client = auth.test_client()
    for _ in range(3):
        client.get("/health", headers={"Origin": "https://evil.example"})
    err = capsys.readouterr().err
    assert err.count("refused the browser origin https://evil.example") == 1
    # --cors-origins replaces the list: the hint keeps the origins allowed now.
    assert "--cors-origins 'https://evil.example,http://localhost:*,http://127.0.0.1:*,http://[::1]:*'" in err


def test_cors_origins_setting_parses_and_checks() -> None:
    assert Settings(cors_origins="http://a.test:1, https://b.test/").cors_origins == (
        "http://a.test:1",
        "https://b.test",
    )
    assert Settings(cors_origins=["null", "*"]).cors_origins == ("null", "*")
    assert Settings().cors_origins == ("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*")
    for bad in ["localhost:5173", "http://a.test/path", "ftp//x", 5, [1]]:
        with pytest.raises(ConfigError, match="cors_origins"):
            Settings(cors_origins=bad)


def test_cors_origins_in_a_fixture_file(tmp_path: object) -> None:
    from pathlib import Path

    file = Path(str(tmp_path)) / "users.yaml"
    file.write_text("settings:\n  cors_origins: [https://app.example.test]\nusers: []\n")
    auth = MockAuth.from_fixtures(file)
    assert auth.settings.cors_origins == ("https://app.example.test",)
    file.write_text("settings:\n  cors_origins: [app.example.test]\nusers: []\n")
    with pytest.raises(FixtureError, match=r"users\.yaml.*cors_origins.*app\.example\.test"):
        load_fixtures(file)


@pytest.mark.parametrize("flag", ["--cors-origins", "--cors-origin"])
def test_cli_flag_is_checked_in_one_line(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockauth", "serve", flag, "localhost:5173"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mockauth serve: error: --cors-origins:")
    assert "'localhost:5173' is not an origin" in lines[0]


def test_refused_origins_named_in_the_log_are_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    from mockauth._app.wsgi import MAX_NAMED

    client = MockAuth().test_client()
    for n in range(MAX_NAMED + 50):
        for _ in range(2):
            client.get("/health", headers={"Origin": f"https://site{n}.example"})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == MAX_NAMED + 1
    assert lines[-1].endswith("refused browser origins named in this log already; further ones are not")
