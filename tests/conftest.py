from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from mockauth import MockAuth

USER = "user@example.com"
PASSWORD = "secretpassword"


@pytest.fixture
def auth() -> MockAuth:
    return MockAuth.from_fixtures()


@pytest.fixture
def client(auth: MockAuth) -> Client:
    return auth.test_client()


def login(client: Client, username: str = USER, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
    return client.post("/auth/login", data={"username": username, "password": password}, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: TestResponse, status: int, error: str) -> dict[str, Any]:
    """The response is the spec's JSON error with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str) and body["error_description"]
    return body
