# tests/examples/test_example_https.py
import pytest
import requests


@pytest.mark.mockauth(tls=True)
def test_login_over_https(mockauth_url, mockauth_ca_bundle):
    assert mockauth_url.startswith("https://")
    login = requests.post(
        mockauth_url + "/auth/login",
        data={"username": "user@example.com", "password": "secretpassword"},
        verify=mockauth_ca_bundle,
        timeout=5,
    )
    assert login.status_code == 200
