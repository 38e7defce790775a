# tests/examples/test_example_live_server.py
import requests


def test_discovery(mockauth_url):
    config = requests.get(mockauth_url + "/.well-known/openid-configuration", timeout=5).json()
    assert config["issuer"] == mockauth_url
    assert config["token_endpoint"] == mockauth_url + "/oauth/token"


def test_logout_revokes(mockauth_url):
    login = requests.post(
        mockauth_url + "/auth/login",
        data={"username": "user@example.com", "password": "secretpassword"},
        timeout=5,
    )
    bearer = {"Authorization": "Bearer " + login.json()["access_token"]}
    logout = requests.post(mockauth_url + "/auth/logout", headers=bearer, timeout=5)
    assert logout.status_code == 204
    assert requests.get(mockauth_url + "/auth/me", headers=bearer, timeout=5).status_code == 401
