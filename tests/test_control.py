"""The control API under /_mockauth/, in-process."""

from __future__ import annotations

import pytest
from conftest import PASSWORD, USER, assert_error, bearer, login
from werkzeug.test import Client

from mockauth import MockAuth

# Each test that uses `auth` runs on every store (see conftest.py).
STORES = ("memory", "redis", "redis-pair")


def test_state_hides_secrets(client: Client) -> None:
    state = client.get("/_mockauth/state").get_json()
    assert state["settings"]["secret"] == "[redacted]"
    assert "mockauth-default-secret" not in str(state)
    assert all("password" not in user for user in state["users"])
    assert {u["username"] for u in state["users"]} >= {USER, "admin"}
    assert state["fixture_error"] is None


def test_arm_then_next_two_logins_fail_and_the_third_succeeds(client: Client) -> None:
    armed = client.post("/_mockauth/modes", json={"name": "unavailable", "operation": "login", "times": 2})
    assert armed.status_code == 201
    assert armed.get_json()["times"] == 2 and armed.get_json()["source"] == "api"
    for _ in range(2):
        response = login(client)
        assert_error(response, 503, "temporarily_unavailable")
        assert response.headers["Retry-After"] == "30"
    assert login(client).status_code == 200


def test_arm_with_options_user_and_probability(client: Client) -> None:
    body = {"name": "rate_limited", "user": USER, "probability": 1, "seed": 3, "options": {"retry_after": 5}}
    assert client.post("/_mockauth/modes", json=body).status_code == 201
    response = login(client)
    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "5"
    assert login(client, "admin", "adminpassword").status_code == 200


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "explode"}, "unknown mode 'explode'"),
        ({"name": "slow", "times": -1}, "times must be"),
        ({"name": "slow", "times": 0}, "times must be"),
        ({"name": "slow", "operation": "nowhere"}, "unknown operation"),
        ({"name": "slow", "probability": 1.5}, "probability"),
        ({"name": "slow", "options": {"bogus": 1}}, "unknown option 'bogus'"),
        ({"name": "slow", "options": "fast"}, "'options' must be an object"),
        ({"name": "slow", "scope": "global"}, "Unknown field 'scope'"),
        ({}, "'name'"),
    ],
)
def test_bad_arming_is_a_clear_400(client: Client, body: dict[str, object], words: str) -> None:
    error = assert_error(client.post("/_mockauth/modes", json=body), 400, "invalid_request")
    assert words in error["error_description"]


def test_control_bodies_must_be_json(client: Client) -> None:
    assert_error(client.post("/_mockauth/modes", data={"name": "slow"}), 415, "unsupported_media_type")


def test_list_and_disarm_modes(client: Client, auth: MockAuth) -> None:
    arming_id = client.post("/_mockauth/modes", json={"name": "server_error"}).get_json()["id"]
    listing = client.get("/_mockauth/modes").get_json()
    assert {m["name"] for m in listing["available"]} >= {"rate_limited", "disconnect"}
    assert arming_id in [m["id"] for m in listing["armed"]]
    assert client.delete(f"/_mockauth/modes/{arming_id}").status_code == 204
    assert_error(client.delete(f"/_mockauth/modes/{arming_id}"), 404, "not_found")
    assert_error(client.delete("/_mockauth/modes/abc"), 404, "not_found")
    client.post("/_mockauth/modes", json={"name": "server_error"})
    assert client.delete("/_mockauth/modes").status_code == 204
    assert auth.modes.armed() == []
    assert login(client).status_code == 200


def test_clock_actions(client: Client) -> None:
    token = login(client).get_json()["access_token"]
    before = client.get("/_mockauth/clock").get_json()
    assert before["frozen"] is False
    frozen = client.post("/_mockauth/clock", json={"action": "freeze"}).get_json()
    assert frozen["frozen"] is True
    advanced = client.post("/_mockauth/clock", json={"action": "advance", "seconds": 901}).get_json()
    assert advanced["now"] == pytest.approx(frozen["now"] + 901)
    assert_error(client.get("/auth/me", headers=bearer(token)), 401, "token_expired")
    assert client.post("/_mockauth/clock", json={"action": "set", "at": frozen["now"]}).get_json()["now"] == frozen["now"]
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    assert client.post("/_mockauth/clock", json={"action": "unfreeze"}).get_json()["frozen"] is False
    reset = client.post("/_mockauth/clock", json={"action": "reset"}).get_json()
    assert reset["offset"] == pytest.approx(0, abs=1)


@pytest.mark.parametrize(
    "body",
    [{"action": "advance"}, {"action": "advance", "seconds": "ten"}, {"action": "warp"}, {"action": "set", "at": True}, {"action": "advance", "seconds": 1e300}],
)
def test_bad_clock_calls(client: Client, body: dict[str, object]) -> None:
    assert_error(client.post("/_mockauth/clock", json=body), 400, "invalid_request")


def test_users_at_run_time(client: Client) -> None:
    added = client.post("/_mockauth/users", json={"username": "new@example.com", "password": "pw1", "claims": {"team": "a"}})
    assert added.status_code == 201 and "password" not in added.get_json()
    assert login(client, "new@example.com", "pw1").status_code == 200
    changed = client.patch("/_mockauth/users/new@example.com", json={"password": "pw2", "locked": True})
    assert changed.get_json()["locked"] is True
    assert_error(login(client, "new@example.com", "pw1"), 401, "invalid_credentials")
    assert_error(login(client, "new@example.com", "pw2"), 403, "account_locked")
    assert client.delete("/_mockauth/users/new@example.com").status_code == 204
    assert_error(login(client, "new@example.com", "pw2"), 401, "invalid_credentials")
    assert_error(client.delete("/_mockauth/users/new@example.com"), 404, "not_found")
    assert_error(client.patch("/_mockauth/users/ghost", json={"password": "x"}), 404, "not_found")
    listed = client.get("/_mockauth/users").get_json()
    assert USER in [u["username"] for u in listed]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"username": "x"}, "password: required"),
        ({"username": "x", "password": ""}, "password: must be a non-empty string"),
        ({"username": "x", "password": "p", "claims": {"exp": 1}}, "claims.exp: reserved"),
        ({"username": "x", "password": "p", "locked": "yes"}, "locked: must be true or false"),
        ({"username": "x", "password": "p", "mode": "explode"}, "unknown mode"),
        ({"username": "x", "password": "p", "colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_users_are_a_clear_400(client: Client, body: dict[str, object], words: str) -> None:
    error = assert_error(client.post("/_mockauth/users", json=body), 400, "invalid_request")
    assert words in error["error_description"]


def test_patch_cannot_rename(client: Client) -> None:
    assert_error(client.patch(f"/_mockauth/users/{USER}", json={"username": "other"}), 400, "invalid_request")


def test_removed_user_tokens_stop_working(client: Client) -> None:
    tokens = login(client).get_json()
    client.delete(f"/_mockauth/users/{USER}")
    assert_error(client.get("/auth/me", headers=bearer(tokens["access_token"])), 401, "invalid_token")
    assert_error(client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}), 401, "invalid_token")


def test_journal_read_filter_and_clear(client: Client) -> None:
    login(client)
    login(client, USER, "wrong")
    client.get("/health")
    client.get("/_mockauth/state")  # the control API is not journaled
    journal = client.get("/_mockauth/journal").get_json()
    assert journal["total"] == 3
    assert [e["operation"] for e in journal["entries"]] == ["login", "login", "health"]
    assert [e["status"] for e in journal["entries"]] == [200, 401, 200]
    assert journal["entries"][1]["error"] == "invalid_credentials"
    assert journal["entries"][0]["params"] == {"username": USER, "password": "[redacted]"}
    logins = client.get("/_mockauth/journal?operation=login").get_json()["entries"]
    assert len(logins) == 2
    after = client.get(f"/_mockauth/journal?after={logins[-1]['id']}").get_json()["entries"]
    assert [e["operation"] for e in after] == ["health"]
    assert_error(client.get("/_mockauth/journal?after=x"), 400, "invalid_request")
    assert client.delete("/_mockauth/journal").status_code == 204
    assert client.get("/_mockauth/journal").get_json() == {"total": 0, "entries": []}


def test_issue_and_decode_tokens(client: Client) -> None:
    issued = client.post("/_mockauth/tokens", json={"username": USER, "claims": {"scope": "read"}})
    assert issued.status_code == 201
    token = issued.get_json()["access_token"]
    decoded = client.post("/_mockauth/tokens/decode", json={"token": token}).get_json()
    assert decoded["valid"] is True and decoded["claims"]["scope"] == "read" and decoded["header"]["alg"] == "HS256"
    expired = client.post("/_mockauth/tokens", json={"username": USER, "expires_in": -5}).get_json()["access_token"]
    verdict = client.post("/_mockauth/tokens/decode", json={"token": expired}).get_json()
    assert verdict["valid"] is False and verdict["error"] == "token_expired"
    garbage = client.post("/_mockauth/tokens/decode", json={"token": "garbage"}).get_json()
    assert garbage == {"header": None, "claims": None, "valid": False, "error": "invalid_token", "error_description": "The access token is malformed."}
    assert_error(client.post("/_mockauth/tokens", json={"username": "ghost"}), 404, "not_found")
    assert_error(client.post("/_mockauth/tokens", json={"username": USER, "expires_in": "soon"}), 400, "invalid_request")


def test_reset_restores_the_fixture_state(client: Client, auth: MockAuth) -> None:
    tokens = login(client).get_json()
    client.post("/_mockauth/modes", json={"name": "server_error"})
    client.post("/_mockauth/clock", json={"action": "advance", "seconds": 50})
    client.post("/_mockauth/users", json={"username": "temp", "password": "pw"})
    state = client.post("/_mockauth/reset").get_json()
    assert [m["source"] for m in state["modes"]] == ["fixture"]
    assert state["clock"]["offset"] == pytest.approx(0, abs=1)
    assert "temp" not in [u["username"] for u in state["users"]]
    assert state["journal_total"] == 0
    # Tokens issued before the reset are forgotten: refresh tokens no longer exist.
    assert_error(client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}), 401, "invalid_token")
    assert login(client, USER, PASSWORD).status_code == 200


def test_control_operations_never_fail_by_mode(client: Client) -> None:
    client.post("/_mockauth/modes", json={"name": "server_error"})
    assert client.get("/_mockauth/state").status_code == 200
    assert client.get("/openapi.yaml").status_code == 200
    assert client.get("/_mockauth/").status_code == 200
