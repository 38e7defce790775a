from __future__ import annotations

import json

import pytest
from conftest import PASSWORD, USER, bearer, login, new_namespace
from werkzeug.test import Client

from mockauth import Journal, JournalAssertionError, MockAuth
from mockauth._state.stores.journal import MemoryJournalStore

# Each test that uses `auth` runs on every store (see conftest.py).
STORES = ("memory", "redis", "redis-pair")


def test_assert_called_counts_a_users_logins(auth: MockAuth, client: Client) -> None:
    login(client)
    login(client, "admin", "adminpassword")
    assert len(auth.journal.assert_called("login", user=USER, times=1)) == 1
    auth.journal.assert_not_called("refresh")
    with pytest.raises(JournalAssertionError, match=r"called 3 time\(s\), it was called 2") as caught:
        auth.journal.assert_called("login", times=3)
    assert "POST /auth/login -> 200" in str(caught.value)
    with pytest.raises(JournalAssertionError, match="it never was"):
        auth.journal.assert_called("me")


def test_the_journal_never_holds_a_secret(auth: MockAuth, client: Client) -> None:
    tokens = login(client).get_json()
    login(client, USER, "a-wrong-password-123")
    client.get("/auth/me", headers=bearer(tokens["access_token"]))
    client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    client.post("/auth/login", json={"username": USER, "password": PASSWORD, "token": "tok-secret", "client_secret": "cs-secret"})
    serialized = json.dumps([e.as_dict() for e in auth.journal]) + repr(list(auth.journal))
    served = client.get("/_mockauth/journal").get_data(as_text=True)
    for secret in (PASSWORD, "a-wrong-password-123", tokens["access_token"], tokens["refresh_token"], "tok-secret", "cs-secret"):
        assert secret not in serialized
        assert secret not in served
    assert auth.journal.total == 7


def test_the_journal_is_bounded_but_counts_everything() -> None:
    journal = Journal(MemoryJournalStore(3))
    for _ in range(5):
        journal.record(time=0.0, method="GET", path="/health", operation="health", status=200)
    assert len(journal) == 3 and journal.total == 5
    assert [e.id for e in journal] == [3, 4, 5]


def test_modes_and_errors_are_recorded(auth: MockAuth, client: Client) -> None:
    auth.fail("rate_limited", times=1)
    login(client)
    (entry,) = auth.journal.entries("login")
    assert entry.status == 429 and entry.modes == ("rate_limited",) and entry.error == "rate_limited"
    assert entry.user == USER


def test_the_journal_cap_holds_in_every_store(state: str, request: pytest.FixtureRequest) -> None:
    shared = {} if state == "memory" else {"state": request.getfixturevalue("redis_url"), "state_namespace": new_namespace()}
    auth = MockAuth.from_fixtures(journal_size=3, **shared)
    client = auth.test_client()
    for _ in range(5):
        client.get("/health")
    assert len(auth.journal) == 3 and auth.journal.total == 5
    ids = [e.id for e in auth.journal]
    assert ids == sorted(ids) and ids[-1] - ids[0] == 2
    auth.journal.clear()
    assert len(auth.journal) == 0 and auth.journal.total == 0
    auth.stores.close()


def test_long_field_names_and_content_types_leave_nothing_behind() -> None:
    # What a request is checked with is remembered for the short names and types every
    # client sends; a long one, sent by anyone, must not be kept (1,500 requests with
    # 60 KB field names once held 61 MB).
    import gc
    import tracemalloc

    client = Client(MockAuth.from_fixtures(journal_size=10).app)

    def send(count: int) -> None:
        for number in range(count):
            long = f"{number:06d}" + "x" * 20_000
            answer = client.post("/auth/login", data={long: "v", "username": USER, "password": "wrong"},
                                 content_type=f"application/x-www-form-urlencoded; {long}=1")
            assert answer.status_code == 401

    send(5)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        send(100)  # 100 names and 100 types of 20 KB: 4 MB if they were kept
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000
