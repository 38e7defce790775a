"""Hot reload: `mockauth serve --watch` picks up fixture edits without a restart and
without losing tokens, modes or the clock; a broken edit keeps the last good users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from frontend_support import mockauth_serve, wait_for

from mockauth import MockAuth
from mockauth._cli.watch import FixtureWatcher

FIRST = """\
settings:
  access_token_lifetime: 600
users:
  - username: ann@example.com
    password: annpassword
"""
SECOND = (
    FIRST
    + """\
  - username: new@example.com
    password: newpassword
    claims: {name: New User}
"""
)
BROKEN = (
    SECOND
    + """\
  - username: bob@example.com
    pasword: typo
"""
)


def _login(url: str, username: str, password: str) -> requests.Response:
    return requests.post(
        f"{url}/auth/login", data={"username": username, "password": password}, timeout=10
    )


def _state(url: str) -> dict[str, Any]:
    answer = requests.get(f"{url}/_mockauth/state", timeout=10)
    answer.raise_for_status()
    state: dict[str, Any] = answer.json()
    return state


def _usernames(url: str) -> list[str]:
    return [user["username"] for user in _state(url)["users"]]


def test_serve_watch_reloads_users_and_keeps_state(tmp_path: Path) -> None:
    fixtures = tmp_path / "users.yaml"
    fixtures.write_text(FIRST)
    with mockauth_serve("--watch", "--fixtures", str(fixtures)) as served:
        url = served.url
        # Printed just after the URL, so it may still be on its way.
        wait_for(lambda: f"watching {fixtures}" in served.output(), "the watching line")
        ann = _login(url, "ann@example.com", "annpassword").json()
        requests.post(
            f"{url}/_mockauth/modes", json={"name": "rate_limited", "operation": "jwks"}, timeout=10
        )
        requests.post(
            f"{url}/_mockauth/clock", json={"action": "advance", "seconds": 60}, timeout=10
        )
        assert _login(url, "new@example.com", "newpassword").status_code == 401

        # An edit: a new user can log in, and nothing else was lost.
        fixtures.write_text(SECOND)
        wait_for(lambda: "new@example.com" in _usernames(url), "the new user to appear")
        assert _login(url, "new@example.com", "newpassword").status_code == 200
        me = requests.get(
            f"{url}/auth/me", headers={"Authorization": f"Bearer {ann['access_token']}"}, timeout=10
        )
        assert me.status_code == 200  # a token issued before the reload still works
        state = _state(url)
        assert [m["name"] for m in state["modes"]] == ["rate_limited"]
        assert state["clock"]["offset"] >= 59
        assert state["fixture_error"] is None
        refreshed = requests.post(
            f"{url}/auth/refresh", data={"refresh_token": ann["refresh_token"]}, timeout=10
        )
        assert refreshed.status_code == 200

        # A broken edit: the last good users stay, the error is reported until fixed.
        fixtures.write_text(BROKEN)
        error = wait_for(lambda: _state(url)["fixture_error"], "the fixture error to be reported")
        assert str(fixtures) in error
        assert "users[2] (bob@example.com): pasword: unknown field" in error
        assert "still serving the last good users" in error
        assert _usernames(url) == ["ann@example.com", "new@example.com"]
        assert _login(url, "new@example.com", "newpassword").status_code == 200
        logged = wait_for(
            lambda: [line for line in served.stderr if "fixtures not reloaded" in line],
            "the one log line about the broken file",
        )
        assert len(logged) == 1
        assert "pasword: unknown field" in logged[0]

        # Fixed: the banner goes away and the edit takes effect.
        fixtures.write_text(BROKEN.replace("pasword", "password"))
        wait_for(lambda: "bob@example.com" in _usernames(url), "the fixed file to load")
        assert _state(url)["fixture_error"] is None
        assert _login(url, "bob@example.com", "typo").status_code == 200
        assert len([line for line in served.stderr if "fixtures not reloaded" in line]) == 1


def test_a_settings_change_is_reported_as_needing_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    folder.mkdir()
    (folder / "users.yaml").write_text(FIRST)
    auth = MockAuth.from_fixtures(folder)
    watcher = FixtureWatcher(auth)
    (folder / "users.yaml").write_text(SECOND.replace("600", "60"))
    assert watcher.reload()
    assert "new@example.com" in auth.users
    assert auth.settings.access_token_lifetime == 600  # in force until a restart
    assert auth.fixture_error is not None
    assert "access_token_lifetime changed; restart mockauth" in auth.fixture_error
    (folder / "users.yaml").write_text(SECOND)
    assert watcher.reload()
    assert auth.fixture_error is None


def test_files_added_to_a_watched_folder_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    folder.mkdir()
    (folder / "a.yaml").write_text(FIRST)
    auth = MockAuth.from_fixtures(folder)
    with FixtureWatcher(auth, interval=0.05):
        (folder / "b.yml").write_text("users:\n  - {username: carl, password: carlpassword}\n")
        wait_for(lambda: "carl" in auth.users, "the added file to be read")
        (folder / "b.yml").unlink()
        wait_for(lambda: "carl" not in auth.users, "the removed file's user to go")
    assert auth.fixture_error is None


def test_watching_needs_fixtures() -> None:
    from mockauth import ServerError

    with pytest.raises(ServerError, match="not made from fixtures"):
        FixtureWatcher(MockAuth())
