from __future__ import annotations

import time

import pytest
from conftest import USER, assert_error, bearer, login
from werkzeug.test import Client

from mockauth import Clock, MockAuth
from mockauth._state.stores.clock import MemoryClockStore

# Each test that uses `auth` runs on every store (see conftest.py).
STORES = ("memory", "redis", "redis-pair")


def test_clock_follows_wall_time_until_frozen() -> None:
    clock = Clock(MemoryClockStore())
    assert clock.now() == pytest.approx(time.time(), abs=1)
    frozen = clock.freeze()
    assert clock.now() == frozen and clock.frozen
    assert clock.advance(10) == frozen + 10
    clock.unfreeze()
    assert clock.now() == pytest.approx(frozen + 10, abs=1)
    clock.set(1_000_000)
    assert clock.now() == pytest.approx(1_000_000, abs=1)
    clock.reset()
    assert clock.offset == pytest.approx(0, abs=1) and not clock.frozen


def test_token_valid_at_t_expired_after_its_lifetime(auth: MockAuth, client: Client) -> None:
    auth.clock.freeze()
    token = login(client).get_json()["access_token"]
    auth.clock.advance(auth.settings.access_token_lifetime - 1)
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    auth.clock.advance(2)
    assert_error(client.get("/auth/me", headers=bearer(token)), 401, "token_expired")


def test_refresh_refused_once_the_refresh_token_expired(auth: MockAuth, client: Client) -> None:
    refresh_token = login(client).get_json()["refresh_token"]
    auth.clock.advance(auth.settings.refresh_token_lifetime + 1)
    assert_error(client.post("/auth/refresh", data={"refresh_token": refresh_token}), 401, "token_expired")


def test_tokens_from_the_future_are_not_valid_yet(auth: MockAuth, client: Client) -> None:
    auth.clock.advance(3600)
    token = auth.issue_token(USER)
    auth.clock.reset()
    assert_error(client.get("/auth/me", headers=bearer(token)), 401, "invalid_token")


def test_issued_times_follow_the_clock(auth: MockAuth) -> None:
    import jwt

    auth.clock.set(2_000_000_000)
    auth.clock.freeze()
    claims = jwt.decode(auth.issue_token(USER), options={"verify_signature": False})
    assert claims["iat"] == 2_000_000_000 and claims["exp"] == 2_000_000_900


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e300, "901", [1], True])
def test_the_clock_takes_only_numbers_of_seconds(value: object) -> None:
    # advance(nan) once moved the clock to NaN: every token refused from then on.
    from mockauth import ConfigError

    auth = MockAuth.from_fixtures()
    for change in (auth.clock.advance, auth.clock.set, auth.clock.freeze):
        with pytest.raises(ConfigError, match=r"must be a finite number \(seconds"):
            change(value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'at' must be a finite number"):
        auth.totp("mfa@example.com", at=value)  # type: ignore[arg-type]
    assert auth.clock.offset == pytest.approx(0, abs=1) and not auth.clock.frozen  # untouched
