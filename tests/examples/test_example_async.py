# tests/examples/test_example_async.py
import anyio
import pytest

FORM = {"username": "user@example.com", "password": "secretpassword"}


@pytest.mark.anyio
async def test_login_and_me(mockauth_async_httpx):
    login = await mockauth_async_httpx.post("/auth/login", data=FORM)
    bearer = {"Authorization": "Bearer " + login.json()["access_token"]}
    me = await mockauth_async_httpx.get("/auth/me", headers=bearer)
    assert me.json()["sub"] == "user@example.com"


@pytest.mark.anyio
async def test_a_slow_auth_server_does_not_block_the_event_loop(mockauth, mockauth_async_httpx):
    mockauth.fail("slow", operation="login", delay=1)
    finished = []

    async def login():
        response = await mockauth_async_httpx.post("/auth/login", data=FORM)
        finished.append(("login", response.status_code))

    async def heartbeat():
        await anyio.sleep(0.1)
        finished.append(("heartbeat", None))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(login)
        tasks.start_soon(heartbeat)
    assert finished == [("heartbeat", None), ("login", 200)]
