# tests/examples/test_example_marker.py
import jwt
import pytest


@pytest.mark.mockauth(mode="unavailable:operation=login:retry_after=60")
def test_login_unavailable(mockauth_httpx):
    admin = {"username": "admin", "password": "adminpassword"}
    login = mockauth_httpx.post("/auth/login", data=admin)
    assert login.status_code == 503
    assert login.headers["Retry-After"] == "60"


@pytest.mark.mockauth(users=[{"username": "ann", "password": "pw"}], access_token_lifetime=60)
def test_own_users_and_settings(mockauth_httpx):
    login = mockauth_httpx.post("/auth/login", data={"username": "ann", "password": "pw"})
    assert login.json()["expires_in"] == 60
    admin = {"username": "admin", "password": "adminpassword"}
    assert mockauth_httpx.post("/auth/login", data=admin).status_code == 401


@pytest.mark.mockauth(clock=1_700_000_000)
def test_frozen_clock(mockauth_token):
    claims = jwt.decode(mockauth_token("admin"), options={"verify_signature": False})
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_000 + 900
