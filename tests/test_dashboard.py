"""The dashboard page as served: self-contained, and a client of the control API only."""

from __future__ import annotations

import re

import pytest
from werkzeug.exceptions import HTTPException

from mockauth import MockAuth
from mockauth._app.control_api import page


@pytest.fixture
def auth() -> MockAuth:
    return MockAuth.from_fixtures()


@pytest.mark.parametrize("path", ["/_mockauth/", "/_mockauth"])
def test_the_dashboard_is_served(auth: MockAuth, path: str) -> None:
    answer = auth.test_client().get(path)
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert b"<title>mockauth dashboard</title>" in answer.data


def test_the_page_loads_nothing_from_elsewhere() -> None:
    text = page().decode()
    # No CDN, no web font, no build output: every byte is in this one file.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)
    assert "@import" not in text
    assert "<script src" not in text


def test_the_page_calls_only_the_control_api(auth: MockAuth) -> None:
    calls = re.findall(r"""api\("(GET|POST|DELETE|PATCH)", [`"]([^`"?]+)""", page().decode())
    assert len(calls) >= 10
    control = auth.app.control_operations
    adapter = auth.app.url_map.bind("mockauth.test")
    for method, path in calls:
        concrete = "/_mockauth/" + re.sub(r"\$\{[^}]+\}", "1", path)
        try:
            operation, _ = adapter.match(concrete, method=method)
        except HTTPException:
            pytest.fail(f"the dashboard calls {method} {concrete}, which the spec does not have")
        assert operation in control, (method, concrete)


def test_users_with_passwords_on_request(auth: MockAuth) -> None:
    client = auth.test_client()
    plain = client.get("/_mockauth/users").get_json()
    assert all("password" not in user for user in plain)
    shown = client.get("/_mockauth/users?passwords=true").get_json()
    assert {u["username"]: u["password"] for u in shown}["user@example.com"] == "secretpassword"
    bad = client.get("/_mockauth/users?passwords=yes")
    assert bad.status_code == 400
    assert bad.get_json()["error"] == "invalid_request"
