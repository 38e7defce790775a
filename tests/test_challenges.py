"""Challenge flows: a one-time code (RFC 6238 TOTP) and an expired password between the
password and the tokens, from fixtures and from modes, on every store."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from conftest import PASSWORD, USER, assert_error, bearer, login, rfc6238, send_code
from werkzeug.test import Client, TestResponse

from mockauth import MockAuth

# Each test that uses `auth` runs on every store (see conftest.py).
STORES = ("memory", "redis", "redis-pair")

MFA_USER = "mfa@example.com"
EXPIRED_USER = "expired@example.com"
SECRET = "JBSWY3DPEHPK3PXP"
STEP_START = 1_700_000_010  # the first second of a 30-second TOTP step


def challenged(client: Client, username: str = MFA_USER, password: str = PASSWORD, **kwargs: Any) -> dict[str, Any]:
    """Log in and expect a challenge; its body."""
    response = login(client, username, password, **kwargs)
    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def send_password(client: Client, change_token: str, new_password: str) -> TestResponse:
    return client.post("/auth/password", json={"change_token": change_token, "new_password": new_password})


def assert_tokens(response: TestResponse, client: Client, username: str) -> None:
    """A token answer whose access token works at /auth/me for `username`."""
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/auth/me", headers=bearer(body["access_token"])).get_json()["sub"] == username


# -- multi-factor login ------------------------------------------------------------------


def test_mfa_user_gets_a_challenge_then_tokens(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START)
    body = challenged(client)
    assert body["error"] == "mfa_required" and body["factors"] == ["totp"]
    assert "access_token" not in body and body["error_description"]
    code = auth.totp(MFA_USER)
    assert code == rfc6238(base64.b32decode(SECRET), STEP_START)
    assert_tokens(send_code(client, body["mfa_token"], code), client, MFA_USER)
    statuses = [(e.operation, e.status, e.error) for e in auth.journal.entries() if e.operation != "me"]
    assert statuses == [("login", 403, "mfa_required"), ("mfa", 200, None)]
    assert [e.user for e in auth.journal.entries("mfa")] == [MFA_USER]


def test_json_bodies_work_too(auth: MockAuth, client: Client) -> None:
    body = client.post("/auth/login", json={"username": MFA_USER, "password": PASSWORD}).get_json()
    response = client.post("/auth/mfa", json={"mfa_token": body["mfa_token"], "code": auth.totp(MFA_USER)})
    assert_tokens(response, client, MFA_USER)


# RFC 6238 Appendix B (SHA-1): the 8-digit values, of which a 6-digit code is the last six.
RFC6238_VECTORS = [
    (59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
    (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130"),
]


def test_totp_matches_the_rfc_6238_test_vectors() -> None:
    secret = b"12345678901234567890"
    auth = MockAuth(users=[{"username": "rfc", "password": "pw", "mfa": {"totp_secret": base64.b32encode(secret).decode()}}])
    client = auth.test_client()
    for at, eight_digits in RFC6238_VECTORS:
        assert rfc6238(secret, at, digits=8) == eight_digits  # the independent generator itself
        auth.clock.freeze(at=at)
        assert auth.totp("rfc") == eight_digits[-6:]
        token = challenged(client, "rfc", "pw")["mfa_token"]
        assert send_code(client, token, eight_digits[-6:]).status_code == 200, at


def test_codes_follow_the_mock_clock_across_step_boundaries(auth: MockAuth, client: Client) -> None:
    secret = base64.b32decode(SECRET)
    auth.clock.freeze(at=STEP_START + 29)  # the last second of step n
    first = auth.totp(MFA_USER)
    assert first == rfc6238(secret, STEP_START + 29) == rfc6238(secret, STEP_START)
    auth.clock.advance(1)  # step n + 1
    second = auth.totp(MFA_USER)
    assert second == rfc6238(secret, STEP_START + 30) != first
    # The code of the step before still passes: typed as its step ended.
    assert send_code(client, challenged(client)["mfa_token"], first).status_code == 200
    auth.clock.advance(60)  # step n + 3: the code of step n + 1 is too old now
    token = challenged(client)["mfa_token"]
    body = assert_error(send_code(client, token, second), 401, "invalid_mfa_code")
    assert body["attempts_left"] == 4
    assert_tokens(send_code(client, token, auth.totp(MFA_USER)), client, MFA_USER)


def test_a_code_passes_once(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START)
    code = auth.totp(MFA_USER)
    assert send_code(client, challenged(client)["mfa_token"], code).status_code == 200
    # Another login in the same step, the same code: a replay, refused (RFC 6238 5.2).
    token = challenged(client)["mfa_token"]
    body = assert_error(send_code(client, token, code), 401, "invalid_mfa_code")
    assert "already used" in body["error_description"]
    assert "attempts_left" not in body  # a replay is no guess: it does not count
    auth.clock.advance(30)
    assert send_code(client, token, auth.totp(MFA_USER)).status_code == 200


def test_a_later_steps_code_spends_the_earlier_one(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START + 29)
    earlier = auth.totp(MFA_USER)
    auth.clock.advance(1)
    assert send_code(client, challenged(client)["mfa_token"], auth.totp(MFA_USER)).status_code == 200
    # Still inside the window, but older than a code already taken: refused.
    assert_error(send_code(client, challenged(client)["mfa_token"], earlier), 401, "invalid_mfa_code")


def test_wrong_codes_lock_the_account(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START)
    # A success in between starts the count again.
    assert_error(send_code(client, challenged(client)["mfa_token"], "000000"), 401, "invalid_mfa_code")
    assert send_code(client, challenged(client)["mfa_token"], auth.totp(MFA_USER)).status_code == 200
    token = challenged(client)["mfa_token"]
    for left in (4, 3, 2, 1):  # wrong and malformed codes count alike, across logins
        wrong = "000000" if left % 2 else "12ab"
        body = assert_error(send_code(client, token, wrong), 401, "invalid_mfa_code")
        assert body["attempts_left"] == left
        if left == 3:
            token = challenged(client)["mfa_token"]
    body = assert_error(send_code(client, token, "999999"), 403, "account_locked")
    assert "5 wrong codes" in body["error_description"]
    assert auth.user(MFA_USER).locked
    assert_error(send_code(client, token, auth.totp(MFA_USER)), 401, "invalid_token")  # spent
    assert_error(login(client, MFA_USER, PASSWORD), 403, "account_locked")
    auth.update_user(MFA_USER, locked=False)  # as PATCH /_mockauth/users/... does
    auth.clock.advance(30)
    assert send_code(client, challenged(client)["mfa_token"], auth.totp(MFA_USER)).status_code == 200


def test_the_lockout_count_is_a_setting() -> None:
    auth = MockAuth.from_fixtures(mfa_max_attempts=2)
    client = auth.test_client()
    token = challenged(client)["mfa_token"]
    assert assert_error(send_code(client, token, "000000"), 401, "invalid_mfa_code")["attempts_left"] == 1
    assert_error(send_code(client, token, "000000"), 403, "account_locked")


def test_mfa_tokens_expire_on_the_mock_clock_and_pass_once(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START)
    token = challenged(client)["mfa_token"]
    auth.clock.advance(300)  # challenge_lifetime
    body = assert_error(send_code(client, token, auth.totp(MFA_USER)), 401, "invalid_token")
    assert "expired" in body["error_description"]
    auth.clock.advance(30)
    token = challenged(client)["mfa_token"]
    auth.clock.advance(299)
    assert send_code(client, token, auth.totp(MFA_USER)).status_code == 200
    auth.clock.advance(30)
    body = assert_error(send_code(client, token, auth.totp(MFA_USER)), 401, "invalid_token")
    assert "already used" in body["error_description"]
    for unknown in ("made-up", "é"):
        assert_error(client.post("/auth/mfa", json={"mfa_token": unknown, "code": "123456"}), 401, "invalid_token")
    # Not text at all (a lone surrogate): refused where it enters, as every field is.
    assert_error(client.post("/auth/mfa", json={"mfa_token": "\ud800", "code": "123456"}), 400, "invalid_request")
    # A change_token is no mfa_token, and the other way round.
    change_token = challenged(client, EXPIRED_USER)["change_token"]
    assert_error(send_code(client, change_token, "123456"), 401, "invalid_token")
    assert_error(send_password(client, challenged(client)["mfa_token"], "a-new-password"), 401, "invalid_token")


def test_one_token_racing_itself_signs_in_once(auth: MockAuth) -> None:
    token = challenged(auth.test_client())["mfa_token"]
    code = auth.totp(MFA_USER)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        client = auth.test_client()
        barrier.wait(10)
        statuses.append(send_code(client, token, code).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200] + [401] * 7
    assert not auth.user(MFA_USER).locked  # the losers were no guesses


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"code": "123456"}, "'mfa_token' is required"),
        ({"mfa_token": "x"}, "'code' is required"),
        ({"mfa_token": "x", "code": ""}, "'code' must not be empty"),
        ({"mfa_token": ["x", "y"], "code": "123456"}, "'mfa_token' appears more than once"),
    ],
)
def test_malformed_mfa_requests_get_400(client: Client, data: dict[str, Any], words: str) -> None:
    assert words in assert_error(client.post("/auth/mfa", data=data), 400, "invalid_request")["error_description"]


def test_a_fixed_development_code() -> None:
    auth = MockAuth(users=[{"username": "dev", "password": "pw", "mfa": {"code": "246810"}}])
    client = auth.test_client()
    assert auth.totp("dev") == "246810"
    for _ in range(2):  # a fixed code is not spent: each login takes it again
        assert send_code(client, challenged(client, "dev", "pw")["mfa_token"], "246810").status_code == 200
    assert_error(send_code(client, challenged(client, "dev", "pw")["mfa_token"], "123456"), 401, "invalid_mfa_code")


# -- expired passwords -------------------------------------------------------------------


def test_expired_password_is_changed_then_the_new_one_works(auth: MockAuth, client: Client) -> None:
    body = challenged(client, EXPIRED_USER)
    assert body["error"] == "password_expired" and "access_token" not in body
    assert body["password_policy"] == {"min_length": 8, "uppercase": 0, "lowercase": 0, "digits": 0, "symbols": 0}
    token = body["change_token"]
    refused = assert_error(send_password(client, token, "short"), 400, "weak_password")
    assert refused["rule"] == "min_length" and "at least 8 characters" in refused["error_description"]
    assert assert_error(send_password(client, token, PASSWORD), 400, "weak_password")["rule"] == "different"
    assert_tokens(send_password(client, token, "a-brand-new-password"), client, EXPIRED_USER)
    assert_error(login(client, EXPIRED_USER, PASSWORD), 401, "invalid_credentials")
    assert login(client, EXPIRED_USER, "a-brand-new-password").status_code == 200  # no challenge now
    assert_error(send_password(client, token, "another-password"), 401, "invalid_token")  # spent
    assert auth.user(EXPIRED_USER).password == "a-brand-new-password"
    auth.reset()  # the fixture's password, expired, again
    assert challenged(client, EXPIRED_USER)["error"] == "password_expired"


def test_change_tokens_expire_on_the_mock_clock(auth: MockAuth, client: Client) -> None:
    token = challenged(client, EXPIRED_USER)["change_token"]
    auth.clock.advance(301)
    assert "expired" in assert_error(send_password(client, token, "a-new-password"), 401, "invalid_token")["error_description"]
    assert_error(login(client, EXPIRED_USER, "a-new-password"), 401, "invalid_credentials")


@pytest.mark.parametrize(
    ("new_password", "rule", "words"),
    [
        ("Sh0rt!", "min_length", "at least 12 characters"),
        ("all-lowercase-1!", "uppercase", "at least 1 uppercase letters"),
        ("NO-LOWERCASE-12!", "lowercase", "at least 1 lowercase letters"),
        ("No-Digits-Here!!", "digits", "at least 2 digits"),
        ("NoSymbols12345678", "symbols", "at least 1 symbols"),
    ],
)
def test_the_password_policy_names_the_rule_broken(new_password: str, rule: str, words: str) -> None:
    policy = {"min_length": 12, "uppercase": 1, "lowercase": 1, "digits": 2, "symbols": 1}
    auth = MockAuth.from_fixtures(password_policy=policy)
    client = auth.test_client()
    body = challenged(client, EXPIRED_USER)
    assert body["password_policy"] == policy
    refused = assert_error(send_password(client, body["change_token"], new_password), 400, "weak_password")
    assert refused["rule"] == rule and words in refused["error_description"]
    assert send_password(client, body["change_token"], "Correct-Horse-42").status_code == 200


def test_a_new_password_that_is_not_text_is_refused(client: Client) -> None:
    token = challenged(client, EXPIRED_USER)["change_token"]
    assert_error(send_password(client, token, "\ud800-not-text-at-all"), 400, "invalid_request")


def test_expired_password_then_mfa(auth: MockAuth, client: Client) -> None:
    auth.add_user({
        "username": "both", "password": "old-password", "password_expired": True,
        "mfa": {"totp_secret": SECRET},
    })
    auth.clock.freeze(at=STEP_START)
    code = auth.totp("both")
    first = challenged(client, "both", "old-password")
    assert first["error"] == "password_expired"
    second = send_password(client, first["change_token"], "new-password")
    assert second.status_code == 403 and second.get_json()["error"] == "mfa_required"
    mfa_token = second.get_json()["mfa_token"]
    assert_error(send_code(client, mfa_token, f"{(int(code) + 1) % 10**6:06d}"), 401, "invalid_mfa_code")
    assert_tokens(send_code(client, mfa_token, code), client, "both")
    assert_error(login(client, "both", "old-password"), 401, "invalid_credentials")


# -- as modes ----------------------------------------------------------------------------


def test_mfa_required_mode_sends_any_user_through_the_challenge(auth: MockAuth, client: Client) -> None:
    auth.fail("mfa_required", user=USER)
    assert_error(login(client, USER, "wrong"), 401, "invalid_credentials")  # the password comes first
    body = challenged(client, USER)
    assert body["error"] == "mfa_required"
    assert auth.totp(USER) == "123456"
    assert_error(send_code(client, body["mfa_token"], "654321"), 401, "invalid_mfa_code")
    assert_tokens(send_code(client, body["mfa_token"], "123456"), client, USER)
    assert login(client, "admin", "adminpassword").status_code == 200  # another user: no mode


def test_mfa_required_mode_on_an_mfa_user_takes_either_code(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START)
    auth.fail("mfa_required", operation="login", times=2)
    assert send_code(client, challenged(client)["mfa_token"], "123456").status_code == 200
    assert send_code(client, challenged(client)["mfa_token"], auth.totp(MFA_USER)).status_code == 200
    # Spent (times=2): the user's own challenge takes only its own code again.
    assert_error(send_code(client, challenged(client)["mfa_token"], "123456"), 401, "invalid_mfa_code")


def test_password_expired_mode_takes_any_password_the_policy_allows(auth: MockAuth, client: Client) -> None:
    auth.fail("password_expired", times=1)
    body = challenged(client, USER)
    assert body["error"] == "password_expired"
    assert_error(send_password(client, body["change_token"], "tiny"), 400, "weak_password")
    assert_tokens(send_password(client, body["change_token"], "a-fresh-password"), client, USER)
    assert_error(login(client, USER, PASSWORD), 401, "invalid_credentials")
    assert login(client, USER, "a-fresh-password").status_code == 200


def test_per_user_modes_know_whose_challenge_it_is(auth: MockAuth, client: Client) -> None:
    auth.fail("account_locked", user=MFA_USER, operation="mfa")
    auth.fail("rate_limited", user=EXPIRED_USER, operation="password")
    assert_error(send_code(client, challenged(client)["mfa_token"], auth.totp(MFA_USER)), 403, "account_locked")
    assert_error(send_password(client, challenged(client, EXPIRED_USER)["change_token"], "new-password"), 429, "rate_limited")
    auth.fail("mfa_required", user=USER)  # another user's challenge step: no mode
    assert send_code(client, challenged(client, USER)["mfa_token"], "123456").status_code == 200
    assert [e.user for e in auth.journal.entries() if e.operation in ("mfa", "password")] == [MFA_USER, EXPIRED_USER, USER]


def test_challenge_modes_by_header(client: Client) -> None:
    body = challenged(client, USER, headers={"X-Mockauth-Mode": "password_expired"})
    assert body["error"] == "password_expired"
    body = challenged(client, USER, headers={"X-Mockauth-Mode": "mfa_required"})
    assert send_code(client, body["mfa_token"], "123456").status_code == 200


def test_challenge_modes_with_a_seeded_probability() -> None:
    def statuses(seed: int) -> list[int]:
        auth = MockAuth.from_fixtures()
        auth.fail("mfa_required", probability=0.5, seed=seed)
        client = auth.test_client()
        return [login(client).status_code for _ in range(20)]

    first = statuses(3)
    assert first == statuses(3) and set(first) == {200, 403}


def test_the_marker_knows_the_modes_and_the_policy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.mockauth(mode="mfa_required:user=user@example.com", password_policy={"min_length": 10})
        def test_marked(mockauth, mockauth_httpx):
            form = {"username": "user@example.com", "password": "secretpassword"}
            login = mockauth_httpx.post("/auth/login", data=form)
            assert login.status_code == 403
            code = mockauth.totp("user@example.com")
            done = mockauth_httpx.post("/auth/mfa", data={"mfa_token": login.json()["mfa_token"], "code": code})
            assert done.status_code == 200
            assert mockauth.settings.password_policy.min_length == 10

        @pytest.mark.mockauth(mode="password_expired")
        def test_expired(mockauth_httpx):
            form = {"username": "admin", "password": "adminpassword"}
            assert mockauth_httpx.post("/auth/login", data=form).json()["error"] == "password_expired"
    """)
    # In a process of its own: an in-process run leaves schemathesis' pytest plugin in a
    # state that empties a later contract run's schema phase in this process.
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


# -- everywhere --------------------------------------------------------------------------


def test_the_journal_never_holds_codes_tokens_or_passwords(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START)
    mfa = challenged(client)
    code = auth.totp(MFA_USER)
    send_code(client, mfa["mfa_token"], "000000")
    send_code(client, mfa["mfa_token"], code)
    change = challenged(client, EXPIRED_USER)
    send_password(client, change["change_token"], "a-secret-new-password")
    entries = auth.journal.entries()
    text = json.dumps([entry.as_dict() for entry in entries])
    for secret in (code, mfa["mfa_token"], change["change_token"], "a-secret-new-password", PASSWORD):
        assert secret not in text
    assert {"mfa_token": "[redacted]", "code": "[redacted]"} in [dict(e.params) for e in entries]
    assert {"change_token": "[redacted]", "new_password": "[redacted]"} in [dict(e.params) for e in entries]


def test_the_dashboard_api_shows_each_mfa_users_code_at_the_mock_clock(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze(at=STEP_START + 7)
    users = {u["username"]: u for u in client.get("/_mockauth/users?passwords=true").get_json()}
    assert users[MFA_USER]["mfa"] == {"totp_secret": SECRET}
    assert users[MFA_USER]["mfa_code"] == rfc6238(base64.b32decode(SECRET), STEP_START)
    assert users[MFA_USER]["mfa_code_valid_until"] == STEP_START + 30
    assert "mfa_code" not in users[USER]
    plain = {u["username"]: u for u in client.get("/_mockauth/users").get_json()}
    assert plain[MFA_USER]["mfa"] == {"totp_secret": "[redacted]"}
    assert plain[EXPIRED_USER]["password_expired"] is True
    assert SECRET not in json.dumps(client.get("/_mockauth/state").get_json())


def test_users_with_challenges_through_the_control_api(auth: MockAuth, client: Client) -> None:
    added = client.post("/_mockauth/users", json={
        "username": "ann", "password": "ann-password", "mfa": {"code": "135790"}, "password_expired": True,
    })
    assert added.status_code == 201 and added.get_json()["mfa"] == {"code": "[redacted]"}
    refused = client.post("/_mockauth/users", json={"username": "bob", "password": "pw", "mfa": {"code": 1}})
    assert "mfa.code: must be 6 digits" in assert_error(refused, 400, "invalid_request")["error_description"]
    # A change keeps the secrets it does not name.
    assert client.patch("/_mockauth/users/ann", json={"password_expired": False}).status_code == 200
    assert send_code(client, challenged(client, "ann", "ann-password")["mfa_token"], "135790").status_code == 200


def through(door: str, auth: MockAuth) -> Callable[[str, dict[str, str]], tuple[int, dict[str, Any]]]:
    """POST a form through one door: (status, JSON body)."""
    import httpx
    import requests

    base = "https://auth.example.test"
    if door == "test_client":
        client = auth.test_client()
        return lambda path, form: (lambda r: (r.status_code, r.get_json()))(client.post(path, data=form))
    if door == "httpx":
        http = httpx.Client(transport=auth.httpx_transport(), base_url=base)
        return lambda path, form: (lambda r: (r.status_code, r.json()))(http.post(path, data=form))
    if door == "async_httpx":

        async def post_async(path: str, form: dict[str, str]) -> httpx.Response:
            async with httpx.AsyncClient(transport=auth.async_httpx_transport(), base_url=base) as http:
                return await http.post(path, data=form)

        return lambda path, form: (lambda r: (r.status_code, r.json()))(anyio.run(post_async, path, form))

    def with_requests(path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if door == "requests":
            with auth.intercept(base):
                answer = requests.post(base + path, data=form, timeout=10)
        else:
            with auth.serve() as server:
                answer = requests.post(server.url + path, data=form, timeout=10)
        return answer.status_code, answer.json()

    return with_requests


@pytest.mark.parametrize("door", ["test_client", "requests", "httpx", "async_httpx", "live"])
def test_both_flows_through_every_door(door: str) -> None:
    auth = MockAuth.from_fixtures()
    post = through(door, auth)
    status, body = post("/auth/login", {"username": MFA_USER, "password": PASSWORD})
    assert (status, body["error"]) == (403, "mfa_required")
    status, body = post("/auth/mfa", {"mfa_token": body["mfa_token"], "code": auth.totp(MFA_USER)})
    assert status == 200 and body["access_token"]
    status, body = post("/auth/login", {"username": EXPIRED_USER, "password": PASSWORD})
    assert (status, body["error"]) == (403, "password_expired")
    status, body = post("/auth/password", {"change_token": body["change_token"], "new_password": "new-password"})
    assert status == 200 and body["access_token"]
    assert post("/auth/login", {"username": EXPIRED_USER, "password": "new-password"})[0] == 200
