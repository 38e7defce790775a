"""The control API under /_mockauth/, in-process."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize("path", ["/_mockauth/tokens", "/_mockauth/clients/demo-client/token"])
def test_a_null_lifetime_is_refused_not_taken_for_the_default(client: Client, path: str) -> None:
    # openapi.yaml: an integer. JSON.stringify turns a page's Infinity into null.
    body = {"username": USER, "expires_in": None} if "clients" not in path else {"expires_in": None}
    error = assert_error(client.post(path, json=body), 400, "invalid_request")
    assert "'expires_in' must be a whole number of seconds" in error["error_description"]


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


# -- hardening: values where they enter, the same answer on every store ---------------


@pytest.mark.parametrize("after", ["--5", "²", "٣", "1_0", "+5", "5.0", "9" * 30])
def test_odd_numbers_in_the_query_are_a_clear_400(client: Client, after: str) -> None:
    error = assert_error(client.get("/_mockauth/journal", query_string={"after": after}), 400, "invalid_request")
    assert "'after'" in error["error_description"]


def test_a_username_with_a_slash_can_be_changed_and_removed(client: Client) -> None:
    assert client.post("/_mockauth/users", json={"username": "team/ann", "password": "pw"}).status_code == 201
    changed = client.patch("/_mockauth/users/team%2Fann", json={"password": "new"})
    assert changed.status_code == 200 and changed.get_json()["username"] == "team/ann"
    assert login(client, "team/ann", "new").status_code == 200
    assert client.delete("/_mockauth/users/team%2Fann").status_code == 204
    assert client.delete("/_mockauth/users/team%2Fann").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"username": "\ud800", "password": "pw"},
        {"username": "ann", "password": "pw", "claims": {"role": "\udfff"}},
        {"username": "ann", "password": "pw", "email": "a\ud800@example.com"},
    ],
)
def test_users_that_no_answer_could_hold_are_refused(client: Client, body: dict[str, object]) -> None:
    text = json.dumps(body)  # "\ud800" escapes: valid JSON, not valid Unicode
    assert_error(client.post("/_mockauth/users", data=text, content_type="application/json"), 400, "invalid_request")
    assert client.get("/_mockauth/state").status_code == 200
    assert client.get("/_mockauth/users?passwords=true").status_code == 200


@pytest.mark.parametrize("claims", ['{"x": NaN}', '{"exp": Infinity}', '{"exp": 1e400}', '{"n": -1e999}'])
def test_minted_tokens_hold_only_json_numbers(client: Client, claims: str) -> None:
    body = '{"username": "user@example.com", "claims": ' + claims + "}"
    assert_error(client.post("/_mockauth/tokens", data=body, content_type="application/json"), 400, "invalid_request")


def test_a_token_with_a_huge_exp_logs_out_on_every_store(client: Client) -> None:
    minted = client.post("/_mockauth/tokens", json={"username": USER, "claims": {"exp": 10**30}}).get_json()
    assert client.post("/auth/logout", headers=bearer(minted["access_token"])).status_code == 204
    assert assert_error(client.get("/auth/me", headers=bearer(minted["access_token"])), 401, "invalid_token")


def test_patch_needs_a_body_and_clock_actions_take_only_their_fields(client: Client) -> None:
    assert_error(client.patch("/_mockauth/users/admin"), 400, "invalid_request")
    for body in ({"action": "set"}, {"action": "reset", "seconds": 5}, {"action": "freeze", "at": None}, {"action": "advance", "seconds": 1e12}):
        assert_error(client.post("/_mockauth/clock", json=body), 400, "invalid_request")
    assert client.post("/_mockauth/clock", json={"action": "freeze"}).status_code == 200


def test_replacing_a_user_replaces_its_mode(client: Client, auth: MockAuth) -> None:
    for _ in range(3):
        added = client.post("/_mockauth/users", json={"username": "ann", "password": "pw", "mode": "account_locked"})
        assert added.status_code == 201
    assert [a.mode.name for a in auth.modes.armed() if a.user == "ann"] == ["account_locked"]  # once, not three times
    replaced = client.post("/_mockauth/users", json={"username": "ann", "password": "pw"})
    assert replaced.get_json()["mode"] is None
    assert [a for a in auth.modes.armed() if a.user == "ann"] == []
    assert login(client, "ann", "pw").status_code == 200


def test_a_refresh_for_a_locked_account_leaves_the_token_unused(client: Client, auth: MockAuth) -> None:
    tokens = login(client).get_json()
    auth.update_user(USER, locked=True)
    assert_error(client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}), 403, "account_locked")
    auth.update_user(USER, locked=False)
    retried = client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    assert retried.status_code == 200  # a refresh, not a reuse: the family is not revoked
    assert client.get("/auth/me", headers=bearer(retried.get_json()["access_token"])).status_code == 200


def test_expired_token_times_is_used_only_by_a_login_that_issues_a_token(client: Client, auth: MockAuth) -> None:
    auth.fail("expired_token", operation="login", times=1)
    assert_error(login(client, password="wrong"), 401, "invalid_credentials")
    expired = login(client).get_json()
    assert expired["expires_in"] < 0  # the one count, used here
    assert login(client).get_json()["expires_in"] == 900
    assert auth.journal.entries("login")[0].modes == ()  # the wrong password got no mode


def test_fail_returns_the_arming_as_armed_on_every_store(client: Client, auth: MockAuth) -> None:
    armed = auth.fail("unavailable", operation="health", times=3)
    client.get("/health")
    assert armed.arming.times == 3  # a record of what was armed, never changed under you
    assert [a.times for a in auth.modes.armed() if a.id == armed.id] == [2]


def test_armed_modes_and_added_users_are_bounded(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    from mockauth._state import board, users

    monkeypatch.setattr(board, "MAX_ARMED", 3)
    monkeypatch.setattr(users, "MAX_ADDED", 2)
    client = auth.test_client()
    armed_now = len(auth.modes.armed())
    for _ in range(3 - armed_now):
        assert client.post("/_mockauth/modes", json={"name": "slow"}).status_code == 201
    error = assert_error(client.post("/_mockauth/modes", json={"name": "slow"}), 400, "invalid_request")
    assert "disarm some" in error["error_description"]
    for name in ("a", "b"):
        assert client.post("/_mockauth/users", json={"username": name, "password": "pw"}).status_code == 201
    assert_error(client.post("/_mockauth/users", json={"username": "c", "password": "pw"}), 400, "invalid_request")
    assert client.post("/_mockauth/users", json={"username": "a", "password": "new"}).status_code == 201  # a replacement


def test_journal_entries_are_cut_to_a_bounded_size(client: Client) -> None:
    from mockauth._state.journal import MAX_FIELDS, MAX_PATH, MAX_TEXT

    fields = {f"field{n}": "v" * 1000 for n in range(40)}  # 41 KB: within max_body_size
    client.post("/auth/login", data={"username": "u" * 5000, "password": "pw", **fields})
    client.get("/" + "p" * 5000)
    login_entry, path_entry = client.get("/_mockauth/journal").get_json()["entries"][-2:]
    assert len(login_entry["params"]) == MAX_FIELDS + 1  # and one saying how many more
    assert all(len(value) <= MAX_TEXT + 30 for value in login_entry["params"].values())
    assert len(login_entry["user"]) <= MAX_TEXT + 30
    assert len(path_entry["path"]) <= MAX_PATH + 30
