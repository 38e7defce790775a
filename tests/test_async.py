"""The async door: ``MockAuth.async_httpx_transport()`` and the ``mockauth_async_httpx``
fixture, under anyio's pytest plugin and under pytest-asyncio."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from conftest import PASSWORD, USER

from mockauth import MODES, MockAuth
from mockauth._doors.inprocess import async_httpx_transport

BASE = "https://auth.example.test"
FORM = {"username": USER, "password": PASSWORD}


@pytest.fixture
def auth() -> MockAuth:
    return MockAuth.from_fixtures()


def client(auth: MockAuth, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=auth.async_httpx_transport(), base_url=BASE, **kwargs)


@pytest.mark.anyio
async def test_login_me_refresh_logout(auth: MockAuth) -> None:
    async with client(auth) as http:
        login = await http.post("/auth/login", data=FORM)
        assert login.status_code == 200
        bearer = {"Authorization": "Bearer " + login.json()["access_token"]}
        me = await http.get("/auth/me", headers=bearer)
        assert me.json()["sub"] == USER
        refreshed = await http.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
        assert refreshed.status_code == 200
        assert (await http.post("/auth/logout", headers=bearer)).status_code == 204
        assert (await http.get("/auth/me", headers=bearer)).status_code == 401
    auth.journal.assert_called("login", user=USER, times=1)
    assert [entry.operation for entry in auth.journal.entries()] == ["login", "me", "refresh", "logout", "me"]


@pytest.mark.anyio
async def test_requests_run_concurrently() -> None:
    """Eight logins meet at a barrier inside the app: they pass only if all eight are in
    the app at once, so none waits for another to finish."""
    auth = MockAuth.from_fixtures()
    barrier = threading.Barrier(8, timeout=20)

    def meeting(environ: dict[str, Any], start_response: Any) -> Any:
        barrier.wait()
        return auth.app(environ, start_response)

    answers: list[int] = []
    async with httpx.AsyncClient(transport=async_httpx_transport(meeting), base_url=BASE) as http:

        async def login() -> None:
            answers.append((await http.post("/auth/login", data=FORM)).status_code)

        async with anyio.create_task_group() as tasks:
            for _ in range(8):
                tasks.start_soon(login)
    assert answers == [200] * 8
    assert auth.journal.count("login", status=200) == 8


@pytest.mark.anyio
async def test_slow_mode_does_not_block_the_event_loop(auth: MockAuth) -> None:
    """A task that needs the loop for a moment finishes while a 1-second `slow` login is
    waiting: were the delay slept in the loop's thread, the login would come first."""
    auth.fail("slow", operation="login", delay=1)
    order: list[str] = []
    async with client(auth) as http:

        async def login() -> None:
            response = await http.post("/auth/login", data=FORM)
            order.append(f"login {response.status_code}")

        async def other_task() -> None:
            await anyio.sleep(0.05)
            order.append("other task")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(login)
            tasks.start_soon(other_task)
    assert order == ["other task", "login 200"]


@pytest.mark.anyio
async def test_the_clients_read_timeout_holds_as_against_a_real_server(auth: MockAuth) -> None:
    auth.fail("slow", operation="health", delay=1, times=1)
    async with client(auth, timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout, match="read timeout"):
            await http.get("/health")
    auth.fail("slow", operation="health", delay=0.2, times=1)
    async with client(auth, timeout=5) as http:
        assert (await http.get("/health")).status_code == 200


@pytest.mark.anyio
async def test_disconnect_raises_what_a_real_hang_up_raises(auth: MockAuth) -> None:
    auth.fail("disconnect", operation="health")
    with auth.serve() as server:
        async with httpx.AsyncClient(base_url=server.url) as real:
            with pytest.raises(httpx.TransportError) as over_a_socket:
                await real.get("/health")
    async with client(auth) as http:
        with pytest.raises(httpx.TransportError) as in_process:
            await http.get("/health")
    assert type(in_process.value) is type(over_a_socket.value) is httpx.RemoteProtocolError
    assert [entry.error for entry in auth.journal.entries("health")] == ["disconnect", "disconnect"]


@pytest.fixture
def sync_http(auth: MockAuth) -> Iterator[httpx.Client]:
    with httpx.Client(transport=auth.httpx_transport(), base_url=BASE) as http:
        yield http


@pytest.mark.anyio
@pytest.mark.parametrize("mode", sorted(set(MODES) - {"slow", "disconnect"}))
async def test_every_mode_answers_as_through_the_sync_door(
    auth: MockAuth, sync_http: httpx.Client, mode: str
) -> None:
    token = auth.issue_token(USER)
    calls = [
        ("POST", "/auth/login", {"data": FORM}),
        ("GET", "/auth/me", {"headers": {"Authorization": f"Bearer {token}"}}),
    ]
    with auth.fail(mode):
        async with client(auth) as http:
            for method, path, options in calls:
                expected = sync_http.request(method, path, **options)
                answer = await http.request(method, path, **options)
                assert answer.status_code == expected.status_code, (mode, path)
                assert answer.headers.get("Retry-After") == expected.headers.get("Retry-After")
                if expected.status_code >= 400:
                    assert answer.json()["error"] == expected.json()["error"]
                elif expected.headers.get("Content-Type") == "application/json":
                    assert answer.content[:1] == expected.content[:1]


@pytest.mark.asyncio
async def test_under_pytest_asyncio(auth: MockAuth) -> None:
    import asyncio

    async with client(auth) as http:
        answers = await asyncio.gather(*(http.post("/auth/login", data=FORM) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert len({a.json()["access_token"] for a in answers}) == 5


# -- the fixture, in a downstream suite under each plugin -----------------------------------

DOWNSTREAM = """
    import anyio, asyncio, httpx, pytest

    FORM = {"username": "user@example.com", "password": "secretpassword"}

    @pytest.mark.anyio
    async def test_modes_and_journal_with_anyio(mockauth, mockauth_async_httpx):
        mockauth.fail("rate_limited", operation="login", times=1, retry_after=5)
        first = await mockauth_async_httpx.post("/auth/login", data=FORM)
        second = await mockauth_async_httpx.post("/auth/login", data=FORM)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "5")
        assert second.status_code == 200
        mockauth.journal.assert_called("login", user="user@example.com", times=2)
        mockauth.fail("unavailable")  # left armed: the next test must not see it

    @pytest.mark.asyncio
    async def test_reset_and_concurrency_with_pytest_asyncio(mockauth, mockauth_async_httpx):
        assert mockauth.journal.count() == 0
        answers = await asyncio.gather(
            *(mockauth_async_httpx.post("/auth/login", data=FORM) for _ in range(10))
        )
        assert [a.status_code for a in answers] == [200] * 10
        assert mockauth.journal.count("login") == 10

    @pytest.mark.asyncio
    async def test_clock_and_disconnect_with_pytest_asyncio(mockauth, mockauth_async_httpx):
        login = await mockauth_async_httpx.post("/auth/login", data=FORM)
        bearer = {"Authorization": "Bearer " + login.json()["access_token"]}
        mockauth.clock.advance(seconds=901)
        me = await mockauth_async_httpx.get("/auth/me", headers=bearer)
        assert me.json()["error"] == "token_expired"
        mockauth.fail("disconnect", operation="health")
        with pytest.raises(httpx.RemoteProtocolError):
            await mockauth_async_httpx.get("/health")

    @pytest.mark.anyio
    async def test_async_with_block_with_anyio(mockauth_async_httpx):
        async with mockauth_async_httpx as http:
            assert str(http.base_url) == "https://auth.example.test"
            assert (await http.get("/health")).json() == {"status": "ok"}
"""


def test_the_fixture_under_anyio_and_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_downstream=DOWNSTREAM)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_fixture_against_a_real_deployment(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.anyio
        async def test_login(mockauth_async_httpx):
            form = {"username": "admin", "password": "adminpassword"}
            login = await mockauth_async_httpx.post("/auth/login", data=form)
            assert login.status_code == 200

        @pytest.mark.anyio
        async def test_mock_only(mockauth, mockauth_async_httpx):
            pass
        """
    )
    auth = MockAuth.from_fixtures()
    with auth.serve() as server:
        result = pytester.runpytest("-p", "no:cacheprovider", "--mockauth-target", server.url)
    result.assert_outcomes(passed=1, skipped=1)
    auth.journal.assert_called("login", user="admin", times=1)


@pytest.mark.parametrize("missing", ["httpx", "anyio"])
def test_without_httpx_the_doors_say_which_extra_to_install(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    from mockauth import ConfigError

    auth = MockAuth.from_fixtures()
    monkeypatch.setitem(sys.modules, missing, None)  # as after a plain `pip install mockauth`
    doors = [auth.async_httpx_transport] + ([auth.httpx_transport] if missing == "httpx" else [])
    for door in doors:
        with pytest.raises(ConfigError, match=rf"need {missing}: pip install 'mockauth\[httpx\]'"):
            door()
