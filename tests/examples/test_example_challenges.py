# tests/examples/test_example_challenges.py
import pytest


def test_one_time_code(mockauth, mockauth_httpx):
    form = {"username": "mfa@example.com", "password": "secretpassword"}
    challenge = mockauth_httpx.post("/auth/login", data=form)
    assert challenge.status_code == 403
    assert challenge.json()["error"] == "mfa_required"
    code = mockauth.totp("mfa@example.com")
    answer = mockauth_httpx.post("/auth/mfa", data={"mfa_token": challenge.json()["mfa_token"], "code": code})
    assert answer.json()["token_type"] == "bearer"


@pytest.mark.mockauth(mode="password_expired:user=admin", password_policy={"min_length": 12})
def test_expired_password(mockauth, mockauth_httpx):
    challenge = mockauth_httpx.post("/auth/login", data={"username": "admin", "password": "adminpassword"})
    change = {"change_token": challenge.json()["change_token"], "new_password": "too-short"}
    assert mockauth_httpx.post("/auth/password", data=change).json()["rule"] == "min_length"
    change["new_password"] = "long-enough-password"
    assert mockauth_httpx.post("/auth/password", data=change).status_code == 200
    assert mockauth.user("admin").password == "long-enough-password"
