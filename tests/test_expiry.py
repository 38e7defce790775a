"""Expiry follows the mock's clock on every store (SECURITY.md, "Growth and expiry").

Each test runs on memory, on Redis, and on two mocks sharing one Redis (STORES in
conftest.py), with the clock frozen, advanced and moved back: both stores must give the
same answers, and Redis must never forget on the wall clock what the mock's clock still
needs (its TTLs only clean up a namespace no process uses any more). Refresh tokens and
revocations first, then what OAuth and login challenges keep: authorization codes,
login sessions, grants, mfa_tokens.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PASSWORD, USER, assert_error, bearer, login, new_namespace, send_code
from oauth_support import DEMO_BASIC as BASIC
from oauth_support import DEMO_REDIRECT as REDIRECT
from oauth_support import hidden_fields, pkce_pair, query_of
from werkzeug.test import Client, TestResponse

from mockauth import MockAuth
from mockauth._state.grants import CODE_LIFETIME, SESSION_LIFETIME
from mockauth._state.stores import challenges as challenge_store
from mockauth._state.stores import expiring
from mockauth._state.stores import grants as grant_store
from mockauth._state.stores import tokens as store_module
from mockauth._state.stores.redis import STATE_TTL

STORES = ("memory", "redis", "redis-pair")
ACCESS, REFRESH = 900, 86_400  # the bundled fixtures' lifetimes
FROZEN_AT = 1_700_000_000.0


@pytest.fixture
def prune_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every addition looks for what the mock's clock has left behind."""
    monkeypatch.setattr(store_module, "PRUNE_EVERY", 1)
    monkeypatch.setattr(expiring, "PRUNE_EVERY", 1)


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


def test_no_redis_key_expires_with_a_token_a_code_a_session_or_a_challenge(redis_url: str) -> None:
    import redis

    auth = MockAuth.from_fixtures(state=redis_url, state_namespace=new_namespace())
    client = auth.test_client()
    auth.clock.freeze(FROZEN_AT - 10 * 86_400)  # far from the wall clock, either way
    tokens = login(client).get_json()
    assert client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}).status_code == 200
    assert client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}).status_code == 401  # reuse
    client.post("/auth/logout", headers=bearer(auth.issue_token(USER, expires_in=5)))
    code, verifier = code_for(client)
    assert exchange(client, code, verifier).status_code == 200
    mfa_token = challenged(client)
    assert client.post("/auth/mfa", data={"mfa_token": mfa_token, "code": "000000"}).status_code == 401
    assert client.post("/auth/mfa", data={"mfa_token": mfa_token, "code": auth.totp(MFA_USER)}).status_code == 200
    auth.clock.set(FROZEN_AT + 10 * 86_400)
    client.post("/auth/logout", headers=bearer(login(client).get_json()["access_token"]))
    code_for(client)
    challenged(client)
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"mockauth:{auth.settings.state_namespace}:"
    try:
        keys = {key.removeprefix(prefix) for key in server.scan_iter(match=prefix + "*")}
        ttls = {key: server.ttl(prefix + key) for key in keys}
    finally:
        server.close()
        auth.stores.close()
    expiring_sets = {"revoked", "refresh:expiry", "codes:expiry", "sessions:expiry", "grants:expiry",
                     "challenges:expiry"}
    assert expiring_sets <= keys
    # A fixed set of keys, none per token, code, session or challenge ...
    assert not [key for key in keys if key.count(":") > 1 or key.startswith(("code:", "session:", "challenge:"))]
    # ... and every key lives as long as the namespace: a day after the last process touched it.
    assert all(STATE_TTL - 120 < ttl <= STATE_TTL for ttl in ttls.values()), ttls


# -- OAuth and login challenges: codes, sessions, grants, mfa_tokens ------------------------

MFA_USER = "mfa@example.com"
STEP_START = FROZEN_AT + 10  # the first second of a 30-second TOTP step
CHALLENGE_LIFETIME = 300  # the default challenge_lifetime


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Caps of three codes, sessions, grants and challenges; listed
    before `auth`, so the stores it opens take them."""
    for module, name, cap in [(grant_store, "CODES", 3), (grant_store, "SESSIONS", 3), (grant_store, "GRANTS", 3),
                              (challenge_store, "CHALLENGES", 3)]:
        monkeypatch.setattr(module, name, getattr(module, name)._replace(cap=cap))


def authorize(browser: Client, user: str = "admin", **extra: str) -> tuple[dict[str, Any], str]:
    """Sign in on the login page (one click): the query the browser is sent back with, and
    the PKCE verifier."""
    verifier, challenge = pkce_pair()
    query = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "state": "s",
             "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    page = browser.get("/oauth/authorize", query_string=query)
    if page.status_code != 200:  # prompt=none: straight back to the client
        return query_of(page.headers["Location"]), verifier
    answer = browser.post("/oauth/authorize", data={**hidden_fields(page.get_data(as_text=True)), "one_click": user})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return query_of(answer.headers["Location"]), verifier


def code_for(browser: Client) -> tuple[str, str]:
    back, verifier = authorize(browser)
    return back["code"], verifier


def code_for_silently(browser: Client) -> tuple[str, str]:
    back, verifier = authorize(browser, prompt="none")
    return back["code"], verifier


def exchange(client: Client, code: str, verifier: str) -> TestResponse:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    return client.post("/oauth/token", data=form, headers=BASIC)


def refused_why(answer: TestResponse, error: str = "invalid_grant") -> str:
    return str(assert_error(answer, 400 if error == "invalid_grant" else 401, error)["error_description"])


def challenged(client: Client) -> str:
    answer = login(client, MFA_USER, PASSWORD)
    assert answer.status_code == 403, answer.get_data(as_text=True)
    return str(answer.get_json()["mfa_token"])


def test_an_authorization_code_expires_on_the_mock_clock_and_is_forgotten_after_the_margin(
    auth: MockAuth, client: Client, prune_always: None
) -> None:
    auth.clock.freeze(FROZEN_AT)
    used, kept = code_for(client), code_for(client)
    for _ in range(3):  # each addition prunes: nothing is forgotten while the clock stands
        code_for(client)
    assert exchange(client, *used).status_code == 200
    auth.clock.advance(CODE_LIFETIME)  # exactly its lifetime: expired
    code_for(client)
    assert "has expired" in refused_why(exchange(client, *kept))
    assert "already used" in refused_why(exchange(client, *used))  # still a reuse
    auth.clock.set(FROZEN_AT + 30)  # moved back to when they lived: the unused one works
    assert exchange(client, *kept).status_code == 200
    auth.clock.set(FROZEN_AT + CODE_LIFETIME + expiring.FORGET_AFTER + 1)
    code_for(client)  # prunes: both forgotten now, refused as unknown
    assert "is invalid" in refused_why(exchange(client, *used))
    assert auth.stores.grants.counts()["codes"] == 2  # the one made at +60 s (in its margin) and this one


def test_a_login_session_lives_while_the_frozen_clock_stands_and_ends_on_it(
    auth: MockAuth, client: Client, prune_always: None
) -> None:
    auth.clock.freeze(FROZEN_AT)
    browser = Client(client.application)  # keeps cookies
    code_for(browser)  # signed in: the browser holds a session
    for _ in range(3):  # other browsers' sessions: each prunes, none forgets this one
        code_for(Client(client.application))
    auth.clock.advance(SESSION_LIFETIME - 1)
    assert "code" in authorize(browser, prompt="none")[0]
    auth.clock.advance(1)
    assert authorize(browser, prompt="none")[0]["error"] == "login_required"
    auth.clock.set(FROZEN_AT + 10)  # moved back: the session the margin kept is found
    assert "code" in authorize(browser, prompt="none")[0]
    auth.clock.set(FROZEN_AT + SESSION_LIFETIME + expiring.FORGET_AFTER + 1)
    code_for(Client(client.application))  # prunes: only this newest session is left
    assert auth.stores.grants.counts()["sessions"] == 1
    auth.clock.set(FROZEN_AT + 10)
    assert authorize(browser, prompt="none")[0]["error"] == "login_required"  # forgotten


def test_an_mfa_token_expires_on_the_mock_clock_and_is_forgotten_after_the_margin(
    auth: MockAuth, client: Client, prune_always: None
) -> None:
    auth.clock.freeze(STEP_START)
    used, kept = challenged(client), challenged(client)
    for _ in range(3):
        challenged(client)
    assert send_code(client, used, auth.totp(MFA_USER)).status_code == 200
    auth.clock.advance(CHALLENGE_LIFETIME)
    challenged(client)
    assert "has expired" in refused_why(send_code(client, kept, "123456"), "invalid_token")
    assert "already used" in refused_why(send_code(client, used, "123456"), "invalid_token")
    auth.clock.set(STEP_START + 60)  # moved back to when it lived (a later TOTP step)
    assert send_code(client, kept, auth.totp(MFA_USER)).status_code == 200
    auth.clock.set(STEP_START + CHALLENGE_LIFETIME + expiring.FORGET_AFTER + 1)
    challenged(client)  # prunes
    assert "is unknown" in refused_why(send_code(client, used, "123456"), "invalid_token")
    assert auth.stores.challenges.counts()["challenges"] == 2  # the one made at +300 s (in its margin), this one


def test_past_the_code_cap_authorize_is_refused_never_a_live_code_forgotten(
    small_caps: None, auth: MockAuth, client: Client
) -> None:
    auth.clock.freeze(FROZEN_AT)
    browser = Client(client.application)  # one session, signed in silently for the next codes
    codes = [code_for(browser)] + [code_for_silently(browser) for _ in range(2)]
    refused, _ = authorize(browser, prompt="none")
    assert refused["error"] == "temporarily_unavailable"  # RFC 6749 4.1.2.1, back to the client
    assert "3 authorization codes" in refused["error_description"]
    assert [exchange(client, *code).status_code for code in codes] == [200, 200, 200]
    auth.clock.advance(CODE_LIFETIME)  # all three expired: room again
    assert "code" in authorize(browser, prompt="none")[0]


def test_past_the_session_cap_signing_in_is_refused_never_a_live_session_forgotten(
    small_caps: None, auth: MockAuth, client: Client
) -> None:
    auth.clock.freeze(FROZEN_AT)
    browsers = [Client(client.application) for _ in range(4)]  # each keeps its cookies
    for browser in browsers[:3]:
        code_for(browser)
        auth.clock.advance(CODE_LIFETIME)  # the codes expire; the sessions do not
    refused = authorize(browsers[3])[0]
    assert refused["error"] == "temporarily_unavailable"
    assert "3 login sessions" in refused["error_description"]
    assert all("code" in authorize(browser, prompt="none")[0] for browser in browsers[:3])
    auth.clock.advance(SESSION_LIFETIME)
    assert "code" in authorize(browsers[3])[0]


def test_grants_go_with_their_refresh_tokens_past_the_cap_the_earliest_to_expire_first(
    small_caps: None, auth: MockAuth, client: Client
) -> None:
    auth.clock.freeze(FROZEN_AT)
    answers = []
    for _ in range(5):
        grant = client.post("/oauth/token", headers=BASIC, data={
            "grant_type": "password", "username": "admin", "password": "adminpassword"})
        answers.append(grant.get_json())
        auth.clock.advance(1)
    assert auth.stores.grants.counts()["grants"] == 3
    refresh = {"grant_type": "refresh_token", "refresh_token": answers[-1]["refresh_token"]}
    assert client.post("/oauth/token", headers=BASIC, data=refresh).status_code == 200
    first = {"grant_type": "refresh_token", "refresh_token": answers[0]["refresh_token"]}
    assert "no OAuth grant" in refused_why(client.post("/oauth/token", headers=BASIC, data=first))  # never let in


def test_past_the_challenge_cap_a_login_is_refused_never_a_challenge_forgotten(
    small_caps: None, auth: MockAuth, client: Client
) -> None:
    auth.clock.freeze(STEP_START)
    tokens = [challenged(client) for _ in range(3)]
    auth.clock.advance(100)
    refused = login(client, MFA_USER, PASSWORD)
    assert "3 login challenges" in assert_error(refused, 503, "temporarily_unavailable")["error_description"]
    assert refused.headers["Retry-After"] == str(CHALLENGE_LIFETIME - 100)  # when the first expires
    for token in tokens:  # each still alive: a wrong code is a wrong code, not an unknown token
        assert_error(send_code(client, token, "000000" if token != tokens[0] else "111111"), 401,
                     "invalid_mfa_code")
    assert send_code(client, tokens[-1], auth.totp(MFA_USER)).status_code == 200
    auth.clock.advance(CHALLENGE_LIFETIME - 100)
    challenged(client)


def test_users_with_wrong_codes_or_spent_steps_are_bounded(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(challenge_store, "MAX_USERS_TRACKED", 2)
    store = auth.stores.challenges
    for number in range(5):
        assert store.spend_step(f"user{number}", 10)
        assert store.add_failure(f"user{number}") == 1
    assert store.counts()["users"] <= 2 + 2  # two of each kind at most
    assert not store.spend_step("user4", 10)  # the newest is kept
    assert store.add_failure("user4") == 2


def test_a_full_memory_store_drops_the_earliest_to_end_or_refuses_until_it_ends() -> None:
    from mockauth._state.stores.expiring import Bound, MemoryRecords, StoreFull
    from mockauth._state.stores.grants import SessionRecord

    dropping = MemoryRecords[SessionRecord](Bound("grants", 100, drop_earliest=True))
    for n in reversed(range(101)):  # the latest end first: the end decides, not the order of adding
        dropping.add(f"k{n}", SessionRecord("u", 0.0, 1000.0 + n), now=0.0)
    assert len(dropping) == 100
    assert dropping.get("k1") is None  # the earliest to end when k0 came
    assert dropping.get("k0") is not None and dropping.get("k2") is not None and dropping.get("k100") is not None
    refusing = MemoryRecords[SessionRecord](Bound("sessions", 3))
    for n in range(3):
        refusing.add(f"k{n}", SessionRecord("u", 0.0, 100.0 + n), now=0.0)
    for now in (10.0, 50.0):
        with pytest.raises(StoreFull) as full:
            refusing.add("more", SessionRecord("u", 0.0, 500.0), now=now)
        assert full.value.retry_after == 100 - now
    refusing.remove("k0")
    refusing.add("k0", SessionRecord("u", 0.0, 400.0), now=60.0)  # back, ending later: its old end is stale
    with pytest.raises(StoreFull) as full:
        refusing.add("more", SessionRecord("u", 0.0, 500.0), now=60.0)
    assert full.value.retry_after == 101 - 60  # k1 ends first now
    refusing.add("more", SessionRecord("u", 0.0, 500.0), now=101.0)  # k1 has ended
    assert refusing.get("k1") is None and refusing.get("more") is not None
    assert refusing.get("k0") is not None  # its stale end at 100 forgot nothing


def test_the_heap_of_ends_stays_within_twice_what_is_held() -> None:
    from mockauth._state.stores.expiring import Ending

    ending: Ending[float] = Ending(lambda until: until)
    for n in range(20_000):  # one key, a later end each time: every earlier entry goes stale
        ending.set("family", float(n))
    assert len(ending) == 1 and len(ending._ends) <= 2 * 1 + 1000
    ending.forget_ended(19_998.0)
    assert ending.held == {"family": 19_999.0}
    ending.forget_ended(19_999.0)
    assert len(ending) == 0 and ending.first_end() == float("inf")
