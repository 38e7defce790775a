"""Expiry follows the mock's clock on every store (SECURITY.md, "Growth and expiry").

Each test runs on memory, on Redis, and on two mocks sharing one Redis (STORES in
conftest.py), with the clock frozen, advanced and moved back: both stores must give the
same answers, and Redis must never forget on the wall clock what the mock's clock still
needs (its TTLs only clean up a namespace no process uses any more).
"""

from __future__ import annotations

import pytest
from conftest import USER, assert_error, bearer, login, new_namespace
from werkzeug.test import Client

from mockauth import MockAuth
from mockauth._state.stores import tokens as store_module
from mockauth._state.stores.redis import STATE_TTL

STORES = ("memory", "redis", "redis-pair")
ACCESS, REFRESH = 900, 86_400  # the bundled fixtures' lifetimes
FROZEN_AT = 1_700_000_000.0


@pytest.fixture
def prune_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every addition looks for what the mock's clock has left behind."""
    monkeypatch.setattr(store_module, "PRUNE_EVERY", 1)


def refresh(client: Client, token: str) -> tuple[int, str | None]:
    answer = client.post("/auth/refresh", data={"refresh_token": token})
    return answer.status_code, (answer.get_json() or {}).get("error")


def me(client: Client, token: str) -> tuple[int, str | None]:
    answer = client.get("/auth/me", headers=bearer(token))
    return answer.status_code, (answer.get_json() or {}).get("error")


def test_a_revoked_token_stays_revoked_while_the_frozen_clock_says_it_lives(
    auth: MockAuth, client: Client, prune_always: None
) -> None:
    auth.clock.freeze(FROZEN_AT)
    tokens = login(client).get_json()
    minted = auth.issue_token(USER, expires_in=10**8)  # no family: revoked by its jti
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert client.post("/auth/logout", headers=bearer(minted)).status_code == 204
    for _ in range(3):  # logins add to the store: each prunes what the clock has left behind
        login(client)
    assert me(client, tokens["access_token"]) == (401, "invalid_token")
    assert me(client, minted) == (401, "invalid_token")
    assert refresh(client, tokens["refresh_token"]) == (401, "invalid_token")
    auth.clock.advance(ACCESS - 1)  # still alive on the mock's clock, however long it stood
    login(client)
    assert me(client, tokens["access_token"]) == (401, "invalid_token")
    assert me(client, minted) == (401, "invalid_token")


def test_a_refresh_token_expires_on_the_mock_clock(auth: MockAuth, client: Client, prune_always: None) -> None:
    auth.clock.freeze(FROZEN_AT)
    kept, spent = login(client).get_json(), login(client).get_json()
    assert refresh(client, spent["refresh_token"])[0] == 200
    auth.clock.advance(REFRESH)  # exactly its lifetime: expired
    assert refresh(client, kept["refresh_token"]) == (401, "token_expired")
    # Still known for FORGET_AFTER: a used one is still a reuse, and revokes its family.
    assert refresh(client, spent["refresh_token"]) == (401, "invalid_token")
    auth.clock.advance(store_module.FORGET_AFTER - 1)
    login(client)
    assert refresh(client, kept["refresh_token"]) == (401, "token_expired")
    auth.clock.advance(2)
    login(client)  # prunes: the expired ones are gone, refused as unknown
    assert refresh(client, kept["refresh_token"]) == (401, "invalid_token")
    assert auth.stores.tokens.counts()["refresh_tokens"] == 2  # the two logins since


def test_a_revocation_outlives_its_token_by_the_margin_and_a_clock_moved_back_finds_it(
    auth: MockAuth, client: Client, prune_always: None
) -> None:
    auth.clock.freeze(FROZEN_AT)
    minted = auth.issue_token(USER, expires_in=60)
    assert client.post("/auth/logout", headers=bearer(minted)).status_code == 204
    auth.clock.advance(60 + store_module.FORGET_AFTER - 1)
    login(client)  # prunes; the revocation is kept
    auth.clock.set(FROZEN_AT + 30)  # back to when the token lived
    assert me(client, minted) == (401, "invalid_token")
    auth.clock.set(FROZEN_AT + 60 + store_module.FORGET_AFTER + 1)
    login(client)  # prunes: now forgotten, long after the token expired
    assert auth.stores.tokens.counts()["revocations"] == 0
    assert me(client, minted) == (401, "token_expired")


def test_logout_of_a_family_revokes_its_tokens_until_the_longest_could_live(
    auth: MockAuth, client: Client, prune_always: None
) -> None:
    auth.clock.freeze(FROZEN_AT)
    tokens = login(client).get_json()
    rotated = client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}).get_json()
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert me(client, rotated["access_token"]) == (401, "invalid_token")  # same family (sid)
    assert refresh(client, rotated["refresh_token"]) == (401, "invalid_token")
    auth.clock.advance(REFRESH - 1)
    login(client)
    assert refresh(client, rotated["refresh_token"]) == (401, "invalid_token")


def test_refresh_tokens_are_capped_and_the_earliest_to_expire_dropped(
    auth: MockAuth, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "PRUNE_EVERY", 5)
    monkeypatch.setattr(store_module, "MAX_REFRESH_TOKENS", 5)
    auth.clock.freeze(FROZEN_AT)  # nothing expires: only the cap keeps the store small
    answers = []
    for _ in range(32):
        answers.append(login(client).get_json())
        auth.clock.advance(1)  # one expiry after the other (ties are dropped in any order)
    assert auth.stores.tokens.counts()["refresh_tokens"] <= 5 + 5 * 2  # two mocks prune on their own count
    assert refresh(client, answers[-1]["refresh_token"])[0] == 200
    assert refresh(client, answers[0]["refresh_token"]) == (401, "invalid_token")  # dropped: refused


def test_past_the_revocation_cap_logout_is_refused_never_a_revocation_forgotten(
    auth: MockAuth, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_REVOCATIONS", 3)
    auth.clock.freeze(FROZEN_AT)
    tokens = [auth.issue_token(USER, expires_in=60) for _ in range(4)]
    for token in tokens[:3]:
        assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    refused = client.post("/auth/logout", headers=bearer(tokens[3]))
    assert_error(refused, 503, "temporarily_unavailable")
    assert refused.headers["Retry-After"] == "60"
    assert all(me(client, token) == (401, "invalid_token") for token in tokens[:3])
    assert me(client, tokens[3])[0] == 200  # not revoked, and the client was told so
    auth.clock.advance(60 + store_module.FORGET_AFTER)  # the first three may be forgotten
    assert client.post("/auth/logout", headers=bearer(auth.issue_token(USER))).status_code == 204


def test_no_redis_key_expires_with_a_token(redis_url: str) -> None:
    import redis

    auth = MockAuth.from_fixtures(state=redis_url, state_namespace=new_namespace())
    client = auth.test_client()
    auth.clock.freeze(FROZEN_AT - 10 * 86_400)  # far from the wall clock, either way
    tokens = login(client).get_json()
    client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})  # reuse
    client.post("/auth/logout", headers=bearer(auth.issue_token(USER, expires_in=5)))
    auth.clock.set(FROZEN_AT + 10 * 86_400)
    client.post("/auth/logout", headers=bearer(login(client).get_json()["access_token"]))
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = list(server.scan_iter(match=f"mockauth:{auth.settings.state_namespace}:*"))
        ttls = {key: server.ttl(key) for key in keys}
    finally:
        server.close()
        auth.stores.close()
    assert any(key.endswith(":revoked") for key in keys)
    # Every key lives as long as the namespace: a day after the last process touched it.
    assert all(STATE_TTL - 120 < ttl <= STATE_TTL for ttl in ttls.values()), ttls
