# tests/examples/test_example_mock_control.py
import requests


def test_client_sees_rate_limit_then_success(mockauth, mockauth_requests):
    mockauth.fail("rate_limited", operation="login", times=1, retry_after=5)
    form = {"username": "user@example.com", "password": "secretpassword"}
    first = requests.post(mockauth_requests.url + "/auth/login", data=form)
    second = requests.post(mockauth_requests.url + "/auth/login", data=form)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "5")
    assert second.status_code == 200
    mockauth.journal.assert_called("login", user="user@example.com", times=2)


def test_token_expires_without_sleeping(mockauth, mockauth_httpx):
    admin = {"username": "admin", "password": "adminpassword"}
    login = mockauth_httpx.post("/auth/login", data=admin)
    bearer = {"Authorization": "Bearer " + login.json()["access_token"]}
    mockauth.clock.advance(seconds=901)
    me = mockauth_httpx.get("/auth/me", headers=bearer)
    assert me.status_code == 401
    assert me.json()["error"] == "token_expired"


def test_user_added_for_one_test(mockauth, mockauth_httpx):
    mockauth.add_user({"username": "ann", "password": "pw", "claims": {"roles": ["tester"]}})
    login = mockauth_httpx.post("/auth/login", data={"username": "ann", "password": "pw"})
    assert login.status_code == 200
