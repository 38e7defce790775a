"""Many processes, one mock: `mockauth serve --state redis://...` processes sharing a Redis
(a stand-in for several machines behind a balancer), Redis lost and back, keys and TTLs."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from conftest import PASSWORD, USER, Alternate, RedisServer, free_port, new_namespace

from mockauth import ConfigError, MockAuth, Server, Settings

MOCKAUTH = str(Path(sys.executable).with_name("mockauth"))
LOGIN = {"username": USER, "password": PASSWORD}


class Served:
    """One `mockauth serve` process: its URL, banner and log file."""

    def __init__(self, process: subprocess.Popen[str], url: str, banner: str, log: Path) -> None:
        self.process, self.url, self.banner, self.log = process, url, banner, log

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def stop(self) -> str:
        """Stop it as Ctrl-C does; its log (stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            self.process.communicate(timeout=15)
        return self.log.read_text()


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[Served]:
    """`mockauth serve --port 0 ARGS` in a subprocess, once it listens."""
    log = tmp_path / f"serve-{free_port()}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [MOCKAUTH, "serve", "--port", "0", *args], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"serving (http://\S+)", banner)
        assert match, banner + log.read_text()
        while "dashboard:" not in banner.splitlines()[-1]:
            banner += process.stdout.readline()
        yield Served(process, match.group(1), banner, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def pair(redis_url: str, tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """Two servers on different ports, one Redis namespace."""
    shared = ("--state", redis_url, "--state-namespace", new_namespace())
    with serving(tmp_path, *shared) as first, serving(tmp_path, *shared) as second:
        yield first, second


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_control_on_one_server_takes_effect_on_the_other(pair: tuple[Served, Served]) -> None:
    a, b = pair
    assert "seeded from the fixtures" in a.banner and "joined the state" in b.banner

    # Users added at run time, then the clock.
    assert a.post("/_mockauth/users", json={"username": "bob", "password": "pw-bob"}).status_code == 201
    assert b.post("/auth/login", data={"username": "bob", "password": "pw-bob"}).status_code == 200
    tokens = a.post("/auth/login", data=LOGIN).json()
    assert b.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert b.post("/_mockauth/clock", json={"action": "advance", "seconds": 901}).status_code == 200
    assert a.get("/_mockauth/clock").json()["offset"] == pytest.approx(901, abs=5)
    expired = a.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert expired.status_code == 401 and expired.json()["error"] == "token_expired"
    a.post("/_mockauth/clock", json={"action": "reset"})

    # Logout on one revokes the token and its refresh chain on the other.
    tokens = a.post("/auth/login", data=LOGIN).json()
    assert a.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert b.get("/auth/me", headers=bearer(tokens["access_token"])).json()["error"] == "invalid_token"
    assert b.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}).status_code == 401

    # Modes armed on one fail the other; disarmed on the other, gone on both.
    assert b.post("/_mockauth/modes", json={"name": "unavailable"}).status_code == 201
    assert a.get("/health").status_code == 503
    assert requests.delete(a.url + "/_mockauth/modes", timeout=30).status_code == 204
    assert b.get("/health").status_code == 200

    # One journal: b sees what a answered.
    journal = b.get("/_mockauth/journal").json()
    assert [e["operation"] for e in journal["entries"]].count("login") == 3
    assert journal["total"] == a.get("/_mockauth/journal").json()["total"]

    # A reset on one is a reset for both.
    assert b.post("/_mockauth/reset").status_code == 200
    assert a.post("/auth/login", data={"username": "bob", "password": "pw-bob"}).status_code == 401
    assert a.get("/_mockauth/journal").json()["total"] == 1
    log = a.stop() + b.stop()
    assert "Traceback" not in log


def test_times_is_exact_over_200_logins_split_over_two_servers(pair: tuple[Served, Served]) -> None:
    a, b = pair
    arming = {"name": "unavailable", "operation": "login", "times": 5}
    assert a.post("/_mockauth/modes", json=arming).status_code == 201

    def one(i: int) -> int:
        return (a if i % 2 else b).post("/auth/login", data=LOGIN).status_code

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses.count(503) == 5
    assert statuses.count(200) == 195
    assert [m for m in b.get("/_mockauth/modes").json()["armed"] if m["source"] != "fixture"] == []


def test_one_refresh_token_raced_from_20_threads_across_two_servers(pair: tuple[Served, Served]) -> None:
    a, b = pair
    refresh_token = a.post("/auth/login", data=LOGIN).json()["refresh_token"]
    start = threading.Barrier(20)

    def one(i: int) -> int:
        start.wait(30)
        return (a if i % 2 else b).post("/auth/refresh", data={"refresh_token": refresh_token}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(one, range(20)))
    assert statuses.count(200) == 1
    assert statuses.count(401) == 19


def test_a_seeded_probability_draws_one_sequence_across_servers(pair: tuple[Served, Served]) -> None:
    a, b = pair
    alone = MockAuth.from_fixtures()
    alone.fail("server_error", probability=0.4, seed=11)
    client = alone.test_client()
    expected = [client.get("/health").status_code for _ in range(30)]
    assert 0 < expected.count(500) < 30

    a.post("/_mockauth/modes", json={"name": "server_error", "probability": 0.4, "seed": 11})
    statuses = [(a if i % 2 else b).get("/health").status_code for i in range(30)]
    assert statuses == expected


def test_mode_flags_are_armed_once_by_the_process_that_seeds(redis_url: str, tmp_path: Path) -> None:
    shared = ("--state", redis_url, "--state-namespace", new_namespace(), "--mode", "unavailable:operation=login:times=2")
    with serving(tmp_path, *shared) as a, serving(tmp_path, *shared) as b:
        assert "armed: unavailable" in a.banner and "armed: unavailable" in b.banner
        statuses = [(a if i % 2 else b).post("/auth/login", data=LOGIN).status_code for i in range(4)]
    assert statuses == [503, 503, 200, 200]


def test_redis_lost_then_back_answers_503_meanwhile_then_recovers(tmp_path: Path) -> None:
    redis_server = RedisServer().start()
    restarted = RedisServer(redis_server.port)
    try:
        with serving(tmp_path, "--state", redis_server.url, "--state-namespace", "lost") as served:
            assert served.post("/auth/login", data=LOGIN).status_code == 200
            redis_server.stop()
            for answer in (
                served.post("/auth/login", data=LOGIN),
                served.get("/health"),
                served.get("/_mockauth/state"),
                served.post("/_mockauth/modes", json={"name": "slow"}),
            ):
                assert answer.status_code == 503
                assert answer.headers["Content-Type"] == "application/json"
                assert answer.headers["Retry-After"] == "1"
                body = answer.json()
                assert body["error"] == "temporarily_unavailable"
                assert "state store (redis://127.0.0.1:" in body["error_description"]

            restarted.start()  # on the same port, and empty: nothing was saved
            statuses = []
            for _ in range(50):  # a bounded wait for the first answer after the restart
                statuses.append(served.post("/auth/login", data=LOGIN).status_code)
                if statuses[-1] == 200:
                    break
                time.sleep(0.1)
            assert statuses[-1] == 200, statuses
            # The fixture state was seeded again: users, and a fresh journal.
            assert served.get("/_mockauth/state").json()["users"]
            log = served.stop()
    finally:
        redis_server.stop()
        restarted.stop()
    assert "Traceback" not in log
    assert log.count("unreachable") == 1, log
    assert log.count("reachable again") == 1, log
    assert "is empty (Redis restarted?); seeding it" in log


def test_a_redis_full_at_its_maxmemory_is_a_503_not_a_bug() -> None:
    import redis

    server = RedisServer().start()
    try:
        auth = MockAuth.from_fixtures(state=server.url, state_namespace=new_namespace())
        client = auth.test_client()
        admin = redis.Redis.from_url(server.url)
        admin.config_set("maxmemory", 1)  # anything more than it holds: OOM for every write
        refused = client.post("/auth/login", data=LOGIN)
        admin.config_set("maxmemory", 0)
        after = client.post("/auth/login", data=LOGIN)
        admin.close()
        auth.stores.close()
    finally:
        server.stop()
    body = refused.get_json()
    assert (refused.status_code, body["error"], refused.headers["Retry-After"]) == (503, "temporarily_unavailable", "1")
    assert "refuses to store (command not allowed when used memory > 'maxmemory')" in body["error_description"]
    assert "mockauth:" not in body["error_description"]  # no key names
    assert after.status_code == 200
    auth.check()  # raises any bug the app kept: none


def test_start_with_redis_unreachable_is_one_clear_line() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run([MOCKAUTH, "serve", "--port", "0", "--state", url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"setting 'state': cannot reach {url}" in done.stderr


def test_a_database_redis_does_not_have_is_one_clear_line(redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/99"  # Redis has 16 by default
    done = subprocess.run([MOCKAUTH, "serve", "--port", "0", "--state", url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"setting 'state': {url} refused: DB index is out of range" in done.stderr
    with pytest.raises(ConfigError, match="refused: DB index is out of range"):
        MockAuth.from_fixtures(state=url)


def test_keys_are_namespaced_and_expire(redis_url: str) -> None:
    import redis

    namespace = new_namespace()
    auth = MockAuth.from_fixtures(state=redis_url, state_namespace=namespace)
    client = auth.test_client()
    tokens = client.post("/auth/login", data=LOGIN).get_json()
    client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})
    client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]})  # reuse: family revoked
    client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    auth.fail("rate_limited", probability=0.5, seed=1, times=3)
    client.get("/health")
    auth.clock.advance(5)
    auth.add_user({"username": "kim", "password": "pw"})
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = list(server.scan_iter(match=f"mockauth:{namespace}:*"))
    names = {key.split(":")[2] for key in keys}
    assert {"clock", "users", "modes", "journal", "refresh", "revoked", "seeded"} <= names
    ttls = {key: server.ttl(key) for key in keys}
    assert all(ttl > 0 for ttl in ttls.values()), ttls
    assert all(key.startswith("mockauth:") for key in server.scan_iter())
    server.close()
    auth.stores.close()


def test_a_generated_key_is_shared_through_redis(redis_url: str) -> None:
    namespace = new_namespace()
    first = MockAuth.from_fixtures(algorithm="ES256", state=redis_url, state_namespace=namespace)
    second = MockAuth.from_fixtures(algorithm="ES256", state=redis_url, state_namespace=namespace)
    other = MockAuth.from_fixtures(algorithm="ES256", state=redis_url, state_namespace=new_namespace())
    assert first.tokens.keys.jwks() == second.tokens.keys.jwks() != other.tokens.keys.jwks()
    token = first.issue_token(USER)
    assert second.tokens.verify(token)["sub"] == USER
    key = jwt.PyJWK(second.tokens.keys.jwks()["keys"][0]).key
    assert jwt.decode(token, key, algorithms=["ES256"], audience="mockauth")["sub"] == USER


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"state": "postgres://db"}, "expected memory or redis://HOST:PORT/DB"),
        ({"state": "redis://"}, "expected memory or redis://HOST:PORT/DB"),
        ({"state": "redis://127.0.0.1:abc/0"}, "expected memory or redis://HOST:PORT/DB"),  # was a traceback
        ({"state": "redis://127.0.0.1:99999/0"}, "expected memory or redis://HOST:PORT/DB"),
        ({"state_namespace": "a b"}, "'state_namespace': 1 to 64 letters"),
        ({"state_namespace": ""}, "'state_namespace'"),
    ],
)
def test_bad_state_settings(values: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(words)):
        Settings(**values)  # type: ignore[arg-type]


def test_the_state_url_password_is_never_shown() -> None:
    settings = Settings(state="redis://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in str(settings.public())
    assert settings.public()["state"] == "redis://[redacted]@127.0.0.1:6379/0"


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Served]:
    """`mockauth serve --workers 2` on gunicorn, its state in Redis."""
    with serving(tmp_path, "--workers", "2", "--state", redis_url, "--state-namespace", new_namespace()) as served:
        assert "2 worker(s)" in served.process.stdout.readline()  # type: ignore[union-attr]
        yield served


def test_two_workers_on_redis_count_times_exactly(workers: Served) -> None:
    assert workers.post("/_mockauth/modes", json={"name": "unavailable", "operation": "login", "times": 5}).status_code == 201
    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(lambda _: workers.post("/auth/login", data=LOGIN).status_code, range(200)))
    assert statuses.count(503) == 5 and statuses.count(200) == 195
    assert workers.get("/_mockauth/journal").json()["total"] == 200
    assert "Traceback" not in workers.stop()


def test_two_workers_on_redis_use_a_refresh_token_once(workers: Served) -> None:
    refresh_token = workers.post("/auth/login", data=LOGIN).json()["refresh_token"]
    start = threading.Barrier(20)

    def one(_: int) -> int:
        start.wait(30)
        return workers.post("/auth/refresh", data={"refresh_token": refresh_token}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(one, range(20)))
    assert statuses.count(200) == 1 and statuses.count(401) == 19


def test_two_workers_on_redis_take_control_changes(workers: Served) -> None:
    # Each call may reach either worker: every change is seen by the next call.
    for round_ in range(6):
        name = f"user{round_}"
        assert workers.post("/_mockauth/users", json={"username": name, "password": "pw"}).status_code == 201
        assert workers.post("/auth/login", data={"username": name, "password": "pw"}).status_code == 200
        tokens = workers.post("/auth/login", data=LOGIN).json()
        assert workers.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
        assert workers.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert workers.post("/_mockauth/clock", json={"action": "freeze", "at": 2_000_000_000}).status_code == 200
    assert {workers.get("/_mockauth/clock").json()["now"] for _ in range(6)} == {2_000_000_000}


def test_several_workers_with_memory_state_refuse_to_start_and_say_how_to_fix_it() -> None:
    done = subprocess.run([MOCKAUTH, "serve", "--port", "0", "--workers", "2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--state memory" in done.stderr and "--state redis://HOST:PORT/DB" in done.stderr


def test_two_mocks_on_one_redis_behind_a_balancer_pass_the_contract(redis_url: str) -> None:
    namespace = new_namespace()
    first = MockAuth.from_fixtures(state=redis_url, state_namespace=namespace)
    second = MockAuth.from_fixtures(state=redis_url, state_namespace=namespace)
    with Server(Alternate(first.app, second.app)) as server:  # every other request to each
        done = subprocess.run(
            [MOCKAUTH, "contract", server.url, "--username", USER, "--password", PASSWORD,
             "--max-examples", "10", "--seed", "1", "--expired-token", first.issue_token(USER, expires_in=-60)],
            capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not first.app.errors and not second.app.errors
    assert "FAILED" not in done.stdout
    answered = {(entry.operation, entry.status) for entry in second.journal.entries()}
    assert {("login", 200), ("me", 200), ("refresh", 200), ("logout", 204)} <= answered
