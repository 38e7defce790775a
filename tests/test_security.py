"""Token security, secrets kept out of every output, and the safe defaults of a server
that other machines can reach (SECURITY.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from mockauth import ConfigError, FixtureError, MockAuth, User, load_fixtures
from mockauth._app.admin import ADMIN_COOKIE, ADMIN_HEADER
from mockauth._doors.exposure import is_loopback
from mockauth._settings import DEFAULT_SECRET

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
STRONG = "another-secret-long-enough-for-a-non-loopback-server"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def _forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key else ""
    return signing_input + "." + signature


def _me(auth: MockAuth, token: str) -> tuple[int, dict[str, Any], str]:
    response = auth.test_client().get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json(), response.headers.get("WWW-Authenticate", "")


def assert_refused(auth: MockAuth, token: str, error: str = "invalid_token") -> str:
    status, body, challenge = _me(auth, token)
    assert status == 401, body
    assert body["error"] == error
    assert 'error="invalid_token"' in challenge
    return str(body["error_description"])


@pytest.fixture
def hs() -> MockAuth:
    return MockAuth(
        [User("ann", "pw", claims={"role": "user"}), User("root", "pw2")], secret=SECRET
    )


@pytest.fixture(scope="module")
def rs() -> MockAuth:
    return MockAuth([User("ann", "pw")], algorithm="RS256")


# -- token security ---------------------------------------------------------------------


def test_a_valid_token_is_accepted(hs: MockAuth) -> None:
    status, body, _ = _me(hs, hs.issue_token("ann"))
    assert status == 200
    assert body["sub"] == "ann"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(hs: MockAuth, alg: str) -> None:
    _, claims, _ = _segments(hs.issue_token("ann"))
    assert_refused(hs, _forge({"alg": alg, "typ": "JWT"}, claims, None))
    assert_refused(hs, _forge({"alg": alg, "typ": "JWT"}, claims, None) + "AAAA")


def test_algorithm_confusion_rs256_public_key_as_hs256_secret(rs: MockAuth) -> None:
    # The classic attack: sign HS256 with the server's PUBLIC key as the HMAC secret.
    _, claims, _ = _segments(rs.issue_token("ann"))
    public = rs.tokens.keys.verifying
    keys = [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(rs.tokens.keys.jwks()["keys"][0]).encode(),
    ]
    for key in keys:
        forged = _forge({"alg": "HS256", "typ": "JWT", "kid": rs.tokens.keys.kid}, claims, key)
        assert "algorithm" in assert_refused(rs, forged)


def test_tampered_header_is_refused(hs: MockAuth) -> None:
    header, _, _ = _segments(hs.issue_token("ann"))
    token = hs.issue_token("ann")
    _, payload, signature = token.split(".")
    header["kid"] = "someone-elses-key"
    assert_refused(hs, _b64(json.dumps(header).encode()) + "." + payload + "." + signature)


def test_tampered_payload_is_refused(hs: MockAuth) -> None:
    token = hs.issue_token("ann")
    _, claims, signature = _segments(token)
    claims["sub"] = "root"
    forged = token.split(".")[0] + "." + _b64(json.dumps(claims).encode()) + "." + signature
    assert "signature" in assert_refused(hs, forged)


def test_tampered_signature_is_refused(hs: MockAuth) -> None:
    token = hs.issue_token("ann")
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    assert_refused(hs, f"{head}.{payload}.{_b64(bytes(raw))}")
    assert_refused(hs, f"{head}.{payload}.")


def test_wrong_issuer_is_refused(hs: MockAuth) -> None:
    assert "issuer" in assert_refused(hs, hs.issue_token("ann", iss="https://evil.example"))


def test_wrong_audience_is_refused(hs: MockAuth) -> None:
    assert "audience" in assert_refused(hs, hs.issue_token("ann", aud="another-api"))


def test_token_from_another_key_is_refused(hs: MockAuth, rs: MockAuth) -> None:
    other = MockAuth([User("ann", "pw")], secret="a-different-secret-also-32-bytes-long!")
    assert "signature" in assert_refused(hs, other.issue_token("ann"))
    other_rs = MockAuth([User("ann", "pw")], algorithm="RS256")  # a fresh key pair
    assert "signature" in assert_refused(rs, other_rs.issue_token("ann"))
    assert "algorithm" in assert_refused(rs, hs.issue_token("ann"))


def test_keys_named_in_the_token_header_are_ignored(rs: MockAuth) -> None:
    # Embedded-key attacks: a token signed with the attacker's key that carries that key
    # (jwk), a URL for it (jku, x5u) or another kid is still checked against the mock's key.
    from cryptography.hazmat.primitives.asymmetric import rsa

    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    _, claims, _ = _segments(rs.issue_token("ann"))
    for header in (
        {"jwk": jwk},
        {"jku": "https://attacker.example/jwks.json", "kid": "attacker"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"kid": "../../../../dev/null"},
        {"kid": rs.tokens.keys.kid, "jwk": jwk},
    ):
        forged = jwt.encode(claims, attacker, algorithm="RS256", headers=header)
        assert "signature" in assert_refused(rs, forged)


def test_nbf_in_the_future_is_refused(hs: MockAuth) -> None:
    now = int(hs.clock.now())
    assert "not valid yet" in assert_refused(hs, hs.issue_token("ann", nbf=now + 60))


def test_expired_token_is_refused(hs: MockAuth) -> None:
    assert_refused(hs, hs.issue_token("ann", expires_in=-1), "token_expired")
    token = hs.issue_token("ann", expires_in=60)
    hs.clock.advance(61)
    assert_refused(hs, token, "token_expired")


def test_revoked_jti_is_refused() -> None:
    auth = MockAuth([User("ann", "pw")], secret=SECRET)
    client = auth.test_client()
    answer = client.post("/auth/login", data={"username": "ann", "password": "pw"}).get_json()
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    assert client.get("/auth/me", headers=bearer).status_code == 200
    assert client.post("/auth/logout", headers=bearer).status_code == 204
    assert "revoked" in assert_refused(auth, answer["access_token"])
    refreshed = client.post("/auth/refresh", data={"refresh_token": answer["refresh_token"]})
    assert refreshed.status_code == 401


def test_claims_of_the_wrong_type_are_refused(hs: MockAuth) -> None:
    for claims in ({"exp": "never"}, {"sub": 42}, {"nbf": True}):
        assert_refused(hs, hs.issue_token("ann", **claims))


def test_login_compares_fixed_length_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constant time: every login, known user or not, right password or not, runs one
    # hmac.compare_digest over two SHA-256 digests (no early exit, no length leak).
    import mockauth._app.steps

    calls: list[tuple[int, int]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return compare(a, b)

    monkeypatch.setattr(mockauth._app.steps.hmac, "compare_digest", spy)
    auth = MockAuth([User("ann", "a-long-password-of-some-length")], secret=SECRET)
    client = auth.test_client()
    for username, password, status in [
        ("ann", "a-long-password-of-some-length", 200),
        ("ann", "x", 401),
        ("nobody", "a-long-password-of-some-length", 401),
        ("nobody", "x" * 5000, 401),
    ]:
        assert (
            client.post(
                "/auth/login", data={"username": username, "password": password}
            ).status_code
            == status
        )
    assert calls == [(32, 32)] * 4


# -- secrets stay out of every output -----------------------------------------------------


def _flow(base: str, password: str, session: Any) -> list[str]:
    """Logins right and wrong, me, refresh (twice: reuse), logout, bad tokens; returns
    every secret the flow used."""
    bodies: list[str] = []

    def keep(response: Any) -> Any:
        bodies.append(response.text)
        return response

    keep(
        session.post(
            base + "/auth/login", data={"username": "sam", "password": password + "-wrong"}
        )
    )
    keep(session.post(base + "/auth/login", json={"username": "nobody", "password": password}))
    answer = keep(
        session.post(base + "/auth/login", data={"username": "sam", "password": password})
    ).json()
    access, refresh = answer["access_token"], answer["refresh_token"]
    keep(session.get(base + "/auth/me", headers={"Authorization": f"Bearer {access}"}))
    keep(session.get(base + "/auth/me", params={"access_token": access}))
    keep(session.get(base + "/auth/me", headers={"Authorization": f"Bearer {access[:-3]}xyz"}))
    second = keep(session.post(base + "/auth/refresh", data={"refresh_token": refresh})).json()
    keep(session.post(base + "/auth/refresh", json={"refresh_token": refresh}))  # reuse
    keep(session.post(base + "/auth/refresh", data={"refresh_token": refresh + "x"}))
    keep(
        session.post(
            base + "/auth/logout", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
    )
    keep(
        session.get(
            base + "/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
        )
    )
    keep(
        session.post(
            base + "/auth/login",
            data={"username": "sam", "password": password, "password2": password},
        )
    )
    keep(
        session.post(
            base + "/auth/login",
            data=f"username=sam&password={password}&password={password}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    secrets = [password, access, refresh, second["access_token"], second["refresh_token"]]
    for body in bodies:
        for secret in secrets:
            if body.startswith('{"access_token"'):
                continue  # a token answer carries tokens by design
            assert secret not in body, f"a secret in an answer: {body[:200]}"
    return secrets


def test_no_secret_in_journal_answers_or_log() -> None:
    password = "Pa55-word-that-must-never-leak"
    auth = MockAuth([User("sam", password)], secret=SECRET)
    auth.log_stream = io.StringIO()
    with auth.serve() as server, requests.Session() as session:
        secrets = _flow(server.url, password, session)
        journal = session.get(server.url + "/_mockauth/journal").text
        state = session.get(server.url + "/_mockauth/state").text
    seen = journal + state + auth.log_stream.getvalue() + repr(list(auth.journal))
    assert '"params"' in journal
    assert "[redacted]" in journal
    for secret in secrets:
        assert secret not in seen
    assert SECRET not in state


def test_a_crash_report_has_the_request_secrets_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    import mockauth._app

    password = "Pa55-word-in-a-crash"

    def broken(app: Any, call: Any) -> Any:
        raise RuntimeError(
            f"bug while checking {call.params['password']} for {call.params['username']}"
        )

    monkeypatch.setitem(mockauth._app.auth_api.ROUTES, "login", broken)
    auth = MockAuth([User("sam", password)], secret=SECRET)
    auth.log_stream = io.StringIO()
    response = auth.test_client().post(
        "/auth/login", data={"username": "sam", "password": password}
    )
    assert response.status_code == 500
    assert response.get_json()["error"] == "server_error"
    assert password not in response.get_data(as_text=True)
    log = auth.log_stream.getvalue()
    assert "RuntimeError" in log
    assert "Traceback" in log
    assert password not in log
    assert "[redacted]" in log
    auth.app.errors.clear()


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockauth", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"serving (http://\S+)", first)
    if match is None:
        process.kill()
        raise AssertionError(f"no URL in {first!r}: {process.communicate(timeout=10)}")
    return process, match.group(1)


def _stop_cli(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=15)
    return out, err


def test_no_secret_in_the_serve_output() -> None:
    # `mockauth serve` logs every request (Werkzeug's access log) and its own errors.
    password = "Pa55-word-for-the-cli-run"
    process, url = _start_cli("--secret", STRONG)
    try:
        with requests.Session() as session:
            added = session.post(
                url + "/_mockauth/users", json={"username": "sam", "password": password}
            )
            assert added.status_code == 201
            assert password not in added.text
            secrets = _flow(url, password, session)
            session.get(url + "/auth/me", params={"token": secrets[1], "password": password})
    finally:
        out, err = _stop_cli(process)
    assert "GET /auth/me" in err  # the access log is there ...
    for secret in [*secrets, STRONG]:
        assert secret not in out + err  # ... without any secret in it


# -- HMAC secrets shorter than 32 bytes ----------------------------------------------------


def test_short_secret_refused_from_python() -> None:
    with pytest.raises(ConfigError, match=r"secret.*32 bytes"):
        MockAuth(secret="x" * 31)
    MockAuth(secret="x" * 32)
    MockAuth(secret="short", algorithm="RS256")  # no HMAC, no HMAC secret to check


def test_short_secret_refused_from_yaml(tmp_path: Path) -> None:
    fixture = tmp_path / "users.yaml"
    fixture.write_text("settings:\n  secret: too-short\nusers: []\n")
    with pytest.raises(FixtureError, match=r"users\.yaml.*secret.*32 bytes"):
        load_fixtures(fixture)


def refused_serve(*args: str) -> str:
    """Run `mockauth serve ARGS`, expect a refusal: exit status 2 and one line, returned."""
    result = subprocess.run(
        [sys.executable, "-m", "mockauth", "serve", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_short_secret_refused_from_the_cli() -> None:
    line = refused_serve("--port", "0", "--secret", "too-short")
    assert "--secret" in line
    assert "32 bytes" in line


# -- safe defaults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("192.168.1.10", False),
        ("203.0.113.5", False),
        ("no-such-host.invalid", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_binds_loopback_by_default() -> None:
    with MockAuth.from_fixtures().serve() as server:
        assert server.host == "127.0.0.1"
        assert server._server is not None
        assert server._server.socket.getsockname()[0] == "127.0.0.1"


def test_cli_binds_loopback_by_default() -> None:
    process, url = _start_cli()
    try:
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(url + "/_mockauth/state", timeout=10).status_code == 200
    finally:
        out, err = _stop_cli(process)
    assert "warning" not in out + err


def test_second_loopback_address_needs_no_admin_token() -> None:
    # 127.0.0.2 is loopback too (the whole 127/8 is): no token, no warning.
    auth = MockAuth.from_fixtures()
    auth.log_stream = io.StringIO()
    try:
        server = auth.serve(host="127.0.0.2").start()
    except Exception as error:  # pragma: no cover - a kernel without 127/8 routing
        pytest.skip(f"cannot bind 127.0.0.2: {error}")
    try:
        assert requests.get(server.url + "/_mockauth/state", timeout=10).status_code == 200
        assert server.admin_token is None
    finally:
        server.stop()
    assert auth.log_stream.getvalue() == ""


def test_default_secret_refused_off_loopback() -> None:
    auth = MockAuth.from_fixtures()
    assert auth.settings.secret == DEFAULT_SECRET
    with pytest.raises(ConfigError, match="default secret"):
        auth.serve(host="0.0.0.0")
    MockAuth.from_fixtures(algorithm="RS256").serve(host="0.0.0.0")  # not started: no bind


@pytest.fixture
def exposed() -> Iterator[tuple[MockAuth, str, str]]:
    # Bound to every interface and reached through 127.0.0.1: the machine never leaves.
    auth = MockAuth.from_fixtures(secret=STRONG)
    auth.log_stream = io.StringIO()
    with auth.serve(host="0.0.0.0") as server:
        assert server.admin_token is not None
        yield auth, f"http://127.0.0.1:{server.port}", server.admin_token


def test_off_loopback_the_control_api_needs_the_admin_token(
    exposed: tuple[MockAuth, str, str],
) -> None:
    auth, url, token = exposed
    log = auth.log_stream.getvalue()
    assert "MOCK auth server" in log
    assert token in log  # generated, so printed once at start
    for method, path in [
        ("GET", "/_mockauth/state"),
        ("POST", "/_mockauth/reset"),
        ("GET", "/_mockauth/"),
        ("DELETE", "/_mockauth/modes"),
        ("GET", "/_mockauth/journal"),
    ]:
        for headers in ({}, {ADMIN_HEADER: "wrong-" + token}, {"Authorization": f"Bearer {token}"}):
            refused = requests.request(method, url + path, headers=headers, timeout=10)
            assert refused.status_code == 401, (method, path, headers)
            assert refused.json()["error"] == "admin_token_required"
            assert "WWW-Authenticate" in refused.headers
            assert token not in refused.text
    state = requests.get(url + "/_mockauth/state", headers={ADMIN_HEADER: token}, timeout=10)
    assert state.status_code == 200
    assert token not in state.text
    armed = requests.post(
        url + "/_mockauth/modes",
        json={"name": "unavailable"},
        headers={ADMIN_HEADER: token},
        timeout=10,
    )
    assert armed.status_code == 201
    # The auth API itself needs no admin token.
    assert requests.get(url + "/health", timeout=10).status_code == 503
    assert (
        requests.delete(
            url + "/_mockauth/modes", headers={ADMIN_HEADER: token}, timeout=10
        ).status_code
        == 204
    )
    login = requests.post(
        url + "/auth/login",
        data={"username": "user@example.com", "password": "secretpassword"},
        timeout=10,
    )
    assert login.status_code == 200


def test_off_loopback_the_dashboard_trades_the_token_for_a_cookie(
    exposed: tuple[MockAuth, str, str],
) -> None:
    _, url, token = exposed
    with requests.Session() as browser:
        opened = browser.get(
            url + "/_mockauth/", params={"admin_token": token}, allow_redirects=False, timeout=10
        )
        assert opened.status_code == 303
        assert opened.headers["Location"] == "/_mockauth/"  # the token leaves the address bar
        cookie = opened.headers["Set-Cookie"]
        assert ADMIN_COOKIE in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/_mockauth" in cookie
        page = browser.get(url + "/_mockauth/", timeout=10)
        assert page.status_code == 200
        assert "text/html" in page.headers["Content-Type"]
        assert browser.get(url + "/_mockauth/users", timeout=10).status_code == 200
    wrong = requests.get(
        url + "/_mockauth/", params={"admin_token": "x" * 32}, allow_redirects=False, timeout=10
    )
    assert wrong.status_code == 401


def test_an_admin_token_given_in_the_settings_is_required_everywhere() -> None:
    auth = MockAuth.from_fixtures(admin_token="a-token-of-my-own-choosing")
    auth.log_stream = io.StringIO()
    with auth.serve() as server:
        assert requests.get(server.url + "/_mockauth/state", timeout=10).status_code == 401
        good = {ADMIN_HEADER: "a-token-of-my-own-choosing"}
        assert (
            requests.get(server.url + "/_mockauth/state", headers=good, timeout=10).status_code
            == 200
        )
    with pytest.raises(ConfigError, match="admin_token"):
        MockAuth(admin_token="short")


def test_cli_off_loopback_refuses_the_default_secret() -> None:
    line = refused_serve("--host", "0.0.0.0", "--port", "0")
    assert "--secret" in line
    assert "default secret" in line


def test_cli_off_loopback_warns_and_prints_a_generated_admin_token() -> None:
    process, url = _start_cli("--host", "0.0.0.0", "--secret", STRONG)
    try:
        port = url.rsplit(":", 1)[1]
        local = f"http://127.0.0.1:{port}"
        # The warning and the token go to stderr before the server starts, so before
        # the URL line already read: they are the first lines there.
        assert process.stderr is not None
        err_lines = [process.stderr.readline() for _ in range(2)]
        printed = next(line for line in err_lines if "admin token" in line)
        token = re.search(r"admin token (\S+)", printed)
        assert token is not None
        assert requests.get(local + "/_mockauth/state", timeout=10).status_code == 401
        state = requests.get(
            local + "/_mockauth/state", headers={ADMIN_HEADER: token.group(1)}, timeout=10
        )
        assert state.status_code == 200
    finally:
        _stop_cli(process)
    warned = "".join(err_lines)
    assert "warning" in warned
    assert "MOCK auth server" in warned


def test_cli_admin_token_flag_is_used_and_not_printed() -> None:
    chosen = "my-admin-token-from-the-flag"
    process, url = _start_cli("--host", "0.0.0.0", "--secret", STRONG, "--admin-token", chosen)
    try:
        local = "http://127.0.0.1:" + url.rsplit(":", 1)[1]
        assert (
            requests.get(
                local + "/_mockauth/state", headers={ADMIN_HEADER: chosen}, timeout=10
            ).status_code
            == 200
        )
        assert requests.get(local + "/_mockauth/state", timeout=10).status_code == 401
    finally:
        out, err = _stop_cli(process)
    assert chosen not in out + err


# -- DNS rebinding: the Host check of a live server --------------------------------------


def _get(url: str, path: str, host: str | None) -> requests.Response:
    return requests.get(url + path, headers={"Host": host} if host else {}, timeout=10)


def test_a_live_server_answers_only_its_own_host_names() -> None:
    # A page on evil.example that resolves to 127.0.0.1 (DNS rebinding) sends its own
    # name: refused, on the control API and the auth API alike, and logged once.
    auth = MockAuth.from_fixtures()
    auth.log_stream = io.StringIO()
    with auth.serve() as server:
        port = server.port
        for host in (None, f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"app.localhost:{port}",
                     f"[::1]:{port}", "10.1.2.3:8765", "LOCALHOST."):
            assert _get(server.url, "/_mockauth/users?passwords=true", host).status_code == 200, host
        for path in ("/_mockauth/users?passwords=true", "/_mockauth/state", "/health", "/.well-known/jwks.json"):
            refused = _get(server.url, path, f"evil.example:{port}")
            assert refused.status_code == 403
            assert refused.json()["error"] == "host_not_allowed"
            assert "--allowed-hosts evil.example" in refused.json()["error_description"]
            assert "secretpassword" not in refused.text
        armed = requests.post(
            server.url + "/_mockauth/modes", json={"name": "unavailable"}, headers={"Host": "evil.example"}, timeout=10
        )
        assert armed.status_code == 403 and auth.modes.armed()[-1].mode.name != "unavailable"
        # The in-process doors of the same mock never see the check.
        with auth.intercept("https://auth.example.test"):
            assert requests.get("https://auth.example.test/_mockauth/state", timeout=10).status_code == 200
    log = auth.log_stream.getvalue()
    assert log.count("refused a request for the host") == 1
    assert "--allowed-hosts evil.example" in log


@pytest.mark.parametrize(
    ("allowed", "host", "status"),
    [
        ("mock.example.test", "mock.example.test:80", 200),
        ("mock.example.test", "other.example.test", 403),
        ("*.example.test", "a.b.example.test", 200),
        ("*.example.test", "example.test.evil.example", 403),
        ("*", "anything.example", 200),
    ],
)
def test_allowed_hosts_adds_names_and_a_star_turns_the_check_off(allowed: str, host: str, status: int) -> None:
    auth = MockAuth.from_fixtures(allowed_hosts=allowed)
    auth.log_stream = io.StringIO()
    with auth.serve() as server:
        assert _get(server.url, "/_mockauth/state", host).status_code == status


def test_a_server_bound_to_a_name_answers_that_name() -> None:
    auth = MockAuth.from_fixtures()
    with auth.serve(host="localhost") as server:
        assert _get(server.url, "/health", "localhost").status_code == 200
        assert _get(server.url, "/health", "attacker.example").status_code == 403


def test_an_invalid_host_header_is_400() -> None:
    auth = MockAuth.from_fixtures()
    for host in (".", "a..b", "x:99999", "[::1", "a b"):
        answer = auth.test_client().get("/health", headers={"Host": host})
        assert answer.status_code == 400, host
        assert answer.get_json()["error"] == "invalid_request"


def test_the_cli_takes_allowed_hosts() -> None:
    process, url = _start_cli("--allowed-hosts", "mock.example.test")
    try:
        assert _get(url, "/_mockauth/state", "mock.example.test").status_code == 200
        assert _get(url, "/_mockauth/state", "evil.example").status_code == 403
    finally:
        _, err = _stop_cli(process)
    assert err.count("refused a request for the host 'evil.example'") == 1


def test_the_admin_token_of_a_server_never_outlives_it() -> None:
    # The token guards the server that generated it, while it runs: the in-process doors
    # of the same mock need none, during or after, and whether or not it started.
    auth = MockAuth.from_fixtures(secret=STRONG)
    auth.log_stream = io.StringIO()
    with auth.serve(host="0.0.0.0") as server:
        url = f"http://127.0.0.1:{server.port}"
        assert requests.get(url + "/_mockauth/state", timeout=10).status_code == 401
        assert auth.test_client().get("/_mockauth/state").status_code == 200
    assert auth.test_client().get("/_mockauth/state").status_code == 200
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(Exception, match="cannot listen"):
            auth.serve(host="127.0.0.1", port=taken.getsockname()[1]).start()
    assert auth.test_client().get("/_mockauth/state").status_code == 200


def test_port_already_taken_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        from mockauth import ServerError

        with pytest.raises(ServerError, match=f"127.0.0.1:{port}"):
            MockAuth.from_fixtures().serve(port=port).start()
        line = refused_serve("--port", str(port))
    assert str(port) in line
    assert "in use" in line


def test_every_test_security_md_names_exists() -> None:
    # SECURITY.md lists each promise beside its test: the names must stay real.
    root = Path(__file__).resolve().parent.parent
    named = set(re.findall(r"`(test_\w+)`", (root / "SECURITY.md").read_text()))
    assert len(named) > 50
    defined = set()
    for module in Path(__file__).parent.glob("test_*.py"):
        defined.update(re.findall(r"^def (test_\w+)", module.read_text(), re.MULTILINE))
    from mockauth import MODES

    defined.update(f"test_api_with_mode_{name}" for name in MODES)  # made in a loop
    assert named - defined == set()
