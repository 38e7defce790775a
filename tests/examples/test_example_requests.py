# tests/examples/test_example_requests.py
import requests


def test_login(mockauth_requests):
    response = requests.post(
        mockauth_requests.url + "/auth/login",
        data={"username": "user@example.com", "password": "secretpassword"},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_wrong_password(mockauth_requests):
    response = requests.post(
        mockauth_requests.url + "/auth/login",
        data={"username": "user@example.com", "password": "wrong"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"
