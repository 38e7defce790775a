"""Every error mode under every scope, through the in-process client."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from conftest import PASSWORD, USER, assert_error, bearer, login
from werkzeug.test import Client, TestResponse

from mockauth import MODES, Disconnected, MockAuth, ModeError
from mockauth._modes import API_OPERATIONS, BROWSER_OPERATIONS, LOGIN_OPERATIONS

# Each test that uses `auth` runs on every store (see conftest.py).
STORES = ("memory", "redis", "redis-pair")

OTHER_USER, OTHER_PASSWORD = "admin", "adminpassword"


def prepare(auth: MockAuth, client: Client, operation: str, username: str = USER) -> Callable[[], TestResponse]:
    """A request for `operation` that succeeds when no mode is armed (tokens made up front)."""
    password = PASSWORD if username == USER else OTHER_PASSWORD
    if operation == "login":
        return lambda: login(client, username, password)
    if operation == "refresh":
        tokens = [login(client, username, password).get_json()["refresh_token"] for _ in range(4)]
        return lambda: client.post("/auth/refresh", data={"refresh_token": tokens.pop()})
    if operation in OAUTH_REQUESTS:
        return OAUTH_REQUESTS[operation](auth, client, username, password)
    if operation == "mfa":
        # A fixed code: a TOTP code passes once a step, and these send up to three times.
        auth.add_user({"username": "code@example.com", "password": "codepassword", "mfa": {"code": "654321"}})
        tokens = [login(client, "code@example.com", "codepassword").get_json()["mfa_token"] for _ in range(4)]
        return lambda: client.post("/auth/mfa", data={"mfa_token": tokens.pop(), "code": "654321"})
    if operation == "password":
        tokens = [login(client, "expired@example.com", "secretpassword").get_json()["change_token"] for _ in range(4)]
        return lambda: client.post(
            "/auth/password", data={"change_token": tokens.pop(), "new_password": f"new-password-{len(tokens)}"}
        )
    token = auth.issue_token(username)
    paths = {
        "me": ("GET", "/auth/me"),
        "logout": ("POST", "/auth/logout"),
        "jwks": ("GET", "/.well-known/jwks.json"),
        "openid_configuration": ("GET", "/.well-known/openid-configuration"),
        "health": ("GET", "/health"),
    }
    method, path = paths[operation]
    return lambda: client.open(path, method=method, headers=bearer(token))


# -- OAuth requests that succeed with no mode armed ----------------------------------------

CLIENT = {"Authorization": "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ="}  # demo-client:demo-secret
AUTHORIZATION = {
    "response_type": "code", "client_id": "demo-client", "redirect_uri": "http://127.0.0.1:5000/cb",
    "scope": "openid profile email", "state": "s1",
}


def _oauth_token(client: Client, username: str, password: str) -> str:
    form = {"grant_type": "password", "username": username, "password": password, "scope": "openid email"}
    answer = client.post("/oauth/token", data=form, headers=CLIENT)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return str(answer.get_json()["access_token"])


OAUTH_REQUESTS: dict[str, Callable[[MockAuth, Client, str, str], Callable[[], TestResponse]]] = {
    "authorize": lambda auth, client, u, p: lambda: client.get("/oauth/authorize", query_string=AUTHORIZATION),
    "authorize_login": lambda auth, client, u, p: lambda: client.post(
        "/oauth/authorize", data={**AUTHORIZATION, "username": u, "password": p}
    ),
    "token": lambda auth, client, u, p: lambda: client.post(
        "/oauth/token", data={"grant_type": "password", "username": u, "password": p}, headers=CLIENT
    ),
    "userinfo": lambda auth, client, u, p: (
        lambda token: lambda: client.get("/oauth/userinfo", headers=bearer(token))
    )(_oauth_token(client, u, p)),
    "userinfo_post": lambda auth, client, u, p: (
        lambda token: lambda: client.post("/oauth/userinfo", headers=bearer(token))
    )(_oauth_token(client, u, p)),
    "introspect": lambda auth, client, u, p: (
        lambda token: lambda: client.post("/oauth/introspect", data={"token": token}, headers=CLIENT)
    )(_oauth_token(client, u, p)),
    "revoke": lambda auth, client, u, p: (
        lambda token: lambda: client.post("/oauth/revoke", data={"token": token}, headers=CLIENT)
    )(_oauth_token(client, u, p)),
    "end_session": lambda auth, client, u, p: lambda: client.get("/oauth/logout"),
    "end_session_post": lambda auth, client, u, p: lambda: client.post("/oauth/logout"),
    "oauth_authorization_server": lambda auth, client, u, p: lambda: client.get(
        "/.well-known/oauth-authorization-server"
    ),
}
# What a failing mode reads as once redirected back to the client (RFC 6749 4.1.2.1).
REDIRECTED = {429: "temporarily_unavailable", 500: "server_error", 503: "temporarily_unavailable"}


def assert_oauth_mode_answer(name: str, operation: str, response: TestResponse) -> bool:
    """The shapes of the OAuth endpoints; False when the operation answers as elsewhere."""
    mode = MODES[name]
    if operation == "authorize_login" and mode.effect == "challenge":
        # The second step of the login page: a one-time code, or a new password.
        kind = "mfa" if name == "mfa_required" else "password"
        assert response.status_code == 200 and f'data-kind="{kind}"' in response.get_data(as_text=True)
        return True
    if operation in ("authorize", "authorize_login") and mode.effect == "error":
        if mode.error in ("invalid_credentials", "account_locked", "account_disabled"):
            # The login page again, with the error on it, as a real server shows it.
            assert response.status_code == mode.status and response.mimetype == "text/html"
            assert mode.error_description in response.get_data(as_text=True)
            return True
        assert response.status_code in (302, 303)
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        assert query["error"] == [REDIRECTED[mode.status]] and query["state"] == ["s1"]
        return True
    if operation in BROWSER_OPERATIONS and mode.effect == "error":
        assert response.status_code == mode.status and response.mimetype == "text/html"
        return True
    if operation == "token" and mode.error in ("invalid_credentials", "account_locked", "account_disabled", "invalid_token"):
        assert_error(response, 400, "invalid_grant")
        return True
    if operation in ("userinfo", "userinfo_post") and mode.status == 401:
        assert_error(response, 401, "invalid_token")  # RFC 6750: an expired token is an invalid one
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        return True
    if operation == "token" and mode.effect == "expire":
        assert response.status_code == 200 and response.get_json()["expires_in"] < 0
        return True
    return False


def assert_mode_answer(auth: MockAuth, client: Client, name: str, operation: str, response: TestResponse) -> None:
    """The response is what mode `name` makes `operation` answer."""
    mode = MODES[name]
    if assert_oauth_mode_answer(name, operation, response):
        return
    if mode.effect == "error":
        assert_error(response, mode.status, mode.error or "")
        for header in mode.option_headers:
            assert response.headers[header] == str(int(mode.options[mode.option_headers[header]]))
        if mode.status == 401 and operation in ("me", "logout"):
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    elif mode.effect == "expire":
        if operation in LOGIN_OPERATIONS:
            body = response.get_json()
            assert response.status_code == 200 and body["expires_in"] < 0
            claims = jwt.decode(body["access_token"], options={"verify_signature": False})
            assert claims["iat"] < claims["exp"] <= auth.clock.now()
        else:
            assert_error(response, 401, "token_expired")
    elif mode.effect == "malformed":
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.get_data())
    elif mode.effect == "incomplete":
        body = response.get_json()
        assert response.status_code == 200 and isinstance(body, dict)
        assert "access_token" not in body
    elif mode.effect == "challenge":
        body = assert_error(response, 403, mode.error or "")
        assert isinstance(body["mfa_token" if mode.error == "mfa_required" else "change_token"], str)
        assert response.headers["Cache-Control"] == "no-store"
    elif mode.effect == "delay":
        assert response.status_code in (200, 204, 302, 303)
        entry = auth.journal.entries()[-1]
        assert "slow" in entry.modes and entry.duration_ms >= 50
    else:  # pragma: no cover - every effect is listed above
        raise AssertionError(mode.effect)


def assert_normal(response: TestResponse) -> None:
    assert response.status_code in (200, 204, 302, 303), response.get_data(as_text=True)
    if response.status_code in (302, 303):  # back to the client with a code, not an error
        assert "code" in parse_qs(urlsplit(response.headers["Location"]).query)
    if response.status_code == 200 and response.mimetype == "application/json":
        body = response.get_json()
        assert isinstance(body, dict)
        if "token_type" in body and "active" not in body:  # a token answer, not an introspection
            assert body["access_token"] and body["expires_in"] > 0


def first_operation(name: str) -> str:
    return next(op for op in API_OPERATIONS if op in MODES[name].operations)


MODE_NAMES = sorted(name for name in MODES if name != "disconnect")
OPTIONS = {"slow": {"delay": 0.05}}


@pytest.mark.parametrize("name", MODE_NAMES)
@pytest.mark.parametrize("operation", API_OPERATIONS)
def test_global_mode_on_every_operation(auth: MockAuth, client: Client, name: str, operation: str) -> None:
    send = prepare(auth, client, operation)
    auth.fail(name, **OPTIONS.get(name, {}))
    response = send()
    if operation in MODES[name].operations:
        assert_mode_answer(auth, client, name, operation, response)
    else:
        assert_normal(response)


@pytest.mark.parametrize("name", MODE_NAMES)
def test_operation_scope(auth: MockAuth, client: Client, name: str) -> None:
    operation = first_operation(name)
    other = "health" if operation != "health" else "jwks"
    send, send_other = prepare(auth, client, operation), prepare(auth, client, other)
    auth.fail(name, operation=operation, **OPTIONS.get(name, {}))
    assert_mode_answer(auth, client, name, operation, send())
    assert_normal(send_other())


@pytest.mark.parametrize("name", MODE_NAMES)
def test_user_scope(auth: MockAuth, client: Client, name: str) -> None:
    operation = next(op for op in ("login", "refresh", "me", "logout") if op in MODES[name].operations)
    send_user = prepare(auth, client, operation, USER)
    send_other = prepare(auth, client, operation, OTHER_USER)
    auth.fail(name, user=USER, **OPTIONS.get(name, {}))
    assert_mode_answer(auth, client, name, operation, send_user())
    assert_normal(send_other())


@pytest.mark.parametrize("name", MODE_NAMES)
def test_times_scope_disarms_itself(auth: MockAuth, client: Client, name: str) -> None:
    operation = first_operation(name)
    send = prepare(auth, client, operation)
    auth.fail(name, times=2, **OPTIONS.get(name, {}))
    assert_mode_answer(auth, client, name, operation, send())
    assert_mode_answer(auth, client, name, operation, send())
    assert [a for a in auth.modes.armed() if a.source != "fixture"] == []
    assert_normal(send())


@pytest.mark.parametrize("name", MODE_NAMES)
def test_header_scope(auth: MockAuth, client: Client, name: str) -> None:
    operation = first_operation(name)
    send = prepare(auth, client, operation)
    value = name + ("".join(f":{k}={v}" for k, v in OPTIONS.get(name, {}).items()))
    original_open = client.open

    def open_with_header(*args: object, **kwargs: object) -> TestResponse:
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        headers["X-Mockauth-Mode"] = value
        return original_open(*args, headers=headers, **kwargs)  # type: ignore[arg-type]

    client.open = open_with_header  # type: ignore[method-assign]
    try:
        response = send()
    finally:
        client.open = original_open  # type: ignore[method-assign]
    assert_mode_answer(auth, client, name, operation, response)
    assert_normal(send())  # nothing stays armed


def test_header_can_be_switched_off(client: Client) -> None:
    client = MockAuth.from_fixtures(mode_header=False).test_client()
    assert login(client, headers={"X-Mockauth-Mode": "server_error"}).status_code == 200


def test_header_with_unknown_mode_is_a_clear_400(client: Client) -> None:
    body = assert_error(login(client, headers={"X-Mockauth-Mode": "explode"}), 400, "invalid_request")
    assert "X-Mockauth-Mode" in body["error_description"] and "explode" in body["error_description"]


def test_header_combines_slow_with_a_failure(auth: MockAuth, client: Client) -> None:
    response = login(client, headers={"X-Mockauth-Mode": "slow:delay=0.05, rate_limited:retry_after=7"})
    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "7"
    assert auth.journal.entries()[-1].modes == ("slow", "rate_limited")


def test_disconnect_raises_in_process(auth: MockAuth, client: Client) -> None:
    auth.fail("disconnect", times=1)
    with pytest.raises(Disconnected):
        login(client)
    assert login(client).status_code == 200
    assert [e.error for e in auth.journal.entries("login")] == ["disconnect", None]


def test_disconnect_through_responses_and_httpx(auth: MockAuth) -> None:
    import httpx
    import requests

    auth.fail("disconnect")
    with auth.intercept("https://auth.example.test"), pytest.raises(requests.ConnectionError):
        requests.post("https://auth.example.test/auth/login", data={"username": USER, "password": PASSWORD})
    with httpx.Client(transport=auth.httpx_transport(), base_url="https://auth.example.test") as http, pytest.raises(httpx.RemoteProtocolError):
        http.post("/auth/login", data={"username": USER, "password": PASSWORD})


def test_fixture_user_carries_its_own_mode(tmp_path: object) -> None:
    auth = MockAuth(users=[
        {"username": "always-locked", "password": "pw", "mode": "account_locked"},
        {"username": "fine", "password": "pw"},
    ])
    client = auth.test_client()
    assert_error(login(client, "always-locked", "pw"), 403, "account_locked")
    assert login(client, "fine", "pw").status_code == 200
    auth.disarm()
    assert login(client, "always-locked", "pw").status_code == 200
    auth.reset()  # back to the fixture state, the user's mode included
    assert_error(login(client, "always-locked", "pw"), 403, "account_locked")


def test_bundled_slow_user_is_slow() -> None:
    auth = MockAuth.from_fixtures()
    (arming,) = auth.modes.armed()
    assert (arming.mode.name, arming.user, arming.options, arming.source) == ("slow", "slow@example.com", {"delay": 2.0}, "fixture")


def test_precedence(auth: MockAuth, client: Client) -> None:
    auth.fail("server_error")
    auth.fail("unavailable", operation="login")
    auth.fail("rate_limited", user=USER)
    auth.fail("account_locked", user=USER, operation="login")
    assert_error(login(client, headers={"X-Mockauth-Mode": "invalid_credentials"}), 401, "invalid_credentials")
    assert_error(login(client), 403, "account_locked")  # user + operation
    assert_error(client.get("/auth/me", headers=bearer(auth.issue_token(USER))), 429, "rate_limited")  # user
    assert_error(login(client, OTHER_USER, OTHER_PASSWORD), 503, "temporarily_unavailable")  # operation
    assert_error(client.get("/health"), 500, "server_error")  # everywhere
    auth.fail("unavailable:retry_after=3")  # among equals, the newest wins
    assert_error(client.get("/health"), 503, "temporarily_unavailable")


def test_times_counts_only_when_applied(auth: MockAuth, client: Client) -> None:
    auth.fail("rate_limited", operation="login", times=1)
    auth.fail("server_error", operation="login", user=USER, times=1)
    assert_error(login(client), 500, "server_error")  # the more specific one is used up first
    assert_error(login(client), 429, "rate_limited")
    assert login(client).status_code == 200


def test_times_is_exact_under_concurrency(auth: MockAuth) -> None:
    auth.fail("unavailable", operation="login", times=5)

    def one(_: int) -> int:
        return int(login(auth.test_client()).status_code)

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(one, range(64)))
    assert statuses.count(503) == 5
    assert statuses.count(200) == 59


def failure_sequence(seed: int) -> list[int]:
    auth = MockAuth.from_fixtures()
    auth.fail("server_error", probability=0.3, seed=seed)
    client = auth.test_client()
    return [client.get("/health").status_code for _ in range(40)]


def test_probability_is_repeatable_with_a_seed() -> None:
    first = failure_sequence(7)
    assert first == failure_sequence(7)
    assert 0 < first.count(500) < 40
    assert first != failure_sequence(8)


def test_context_manager_disarms(auth: MockAuth, client: Client) -> None:
    with auth.fail("rate_limited"):
        assert login(client).status_code == 429
    assert login(client).status_code == 200


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda a: a.fail("explode"), "unknown mode 'explode'"),
        (lambda a: a.fail("slow", operation="nowhere"), "unknown operation 'nowhere'"),
        (lambda a: a.fail("invalid_credentials", operation="me"), "does not apply to operation 'me'"),
        (lambda a: a.fail("slow", times=0), "times must be a whole number from 1 to"),
        (lambda a: a.fail("slow", times=-3), "times must be a whole number"),
        (lambda a: a.fail("slow", probability=2), "probability must be a number from 0 to 1"),
        (lambda a: a.fail("slow", nonsense=1), "unknown option 'nonsense'"),
        (lambda a: a.fail("slow", delay="soon"), "option 'delay' must be a number"),
        (lambda a: a.fail("slow:delay"), "expected NAME[:option=value...]"),
    ],
)
def test_bad_arming_raises_mode_error(auth: MockAuth, call: Callable[[MockAuth], object], message: str) -> None:
    with pytest.raises(ModeError, match=re.escape(message)):
        call(auth)
    assert [a for a in auth.modes.armed() if a.source != "fixture"] == []


def test_mode_table_is_documented_in_readme() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name in MODES:
        assert f"`{name}`" in readme, name
