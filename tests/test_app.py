"""Every operation and every request error, through the in-process client."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jwt
import pytest
from conftest import PASSWORD, USER, assert_error, bearer, login
from werkzeug.test import Client

from mockauth import MockAuth, ServerError, UnknownUserError
from mockauth._settings import DEFAULT_SECRET

# Each test that uses `auth` runs on every store (see conftest.py).
STORES = ("memory", "redis", "redis-pair")


def test_login_with_form_returns_a_verifiable_jwt(client: Client) -> None:
    response = login(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    claims = jwt.decode(body["access_token"], DEFAULT_SECRET, algorithms=["HS256"], audience="mockauth")
    assert claims["sub"] == USER
    assert claims["iss"] == "http://localhost"  # the URL the request reached the mock at
    assert claims["exp"] - claims["iat"] == 900
    assert {"nbf", "jti"} <= set(claims)
    assert claims["name"] == "Example User" and claims["roles"] == ["user"]


def test_login_with_json(client: Client) -> None:
    response = client.post("/auth/login", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 200
    assert response.get_json()["token_type"] == "bearer"


def test_login_by_email(client: Client) -> None:
    response = login(client, "admin@example.com", "adminpassword")
    assert response.status_code == 200
    claims = jwt.decode(response.get_json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "admin"
    assert claims["email"] == "admin@example.com"


def test_unknown_user_and_wrong_password_answer_alike(client: Client) -> None:
    wrong = login(client, USER, "nope")
    unknown = login(client, "nobody@example.com", "nope")
    assert_error(wrong, 401, "invalid_credentials")
    assert wrong.get_json() == unknown.get_json()
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("locked@example.com", "lockedpassword", "account_locked"),
        ("disabled@example.com", "disabledpassword", "account_disabled"),
    ],
)
def test_locked_and_disabled_users_get_403(client: Client, username: str, password: str, error: str) -> None:
    assert_error(login(client, username, password), 403, error)


def test_locked_user_with_wrong_password_is_just_refused(client: Client) -> None:
    # Saying "locked" to a wrong password would tell a stranger the account exists.
    assert_error(login(client, "locked@example.com", "wrong"), 401, "invalid_credentials")


def test_me_returns_public_claims(client: Client) -> None:
    token = login(client).get_json()["access_token"]
    response = client.get("/auth/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == {"sub": USER, "name": "Example User", "roles": ["user"]}


def test_me_without_token_follows_rfc6750(client: Client) -> None:
    response = client.get("/auth/me")
    assert_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockauth"'


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Digest username=ann", "token", ""])
def test_me_with_another_scheme_gets_the_challenge_alone(client: Client, header: str) -> None:
    # RFC 6750 3.1: a request without bearer credentials (another scheme included) gets
    # the challenge with no error code in it.
    for method, path in (("GET", "/auth/me"), ("POST", "/auth/logout")):
        response = client.open(path, method=method, headers={"Authorization": header})
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockauth"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer ab!c", "bearer tok\u00e9n", "Bearer ="])
def test_me_with_a_malformed_bearer_header_is_a_bad_request(client: Client, header: str) -> None:
    # RFC 6750 3.1: a malformed request (no token, or one that is not a b64token) is
    # 400 invalid_request, said in the challenge too.
    for method, path in (("GET", "/auth/me"), ("POST", "/auth/logout")):
        response = client.open(path, method=method, headers={"Authorization": header.encode("latin-1").decode("unicode_escape")})
        assert_error(response, 400, "invalid_request")
        assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_me_with_garbage_and_tampered_tokens(client: Client, auth: MockAuth) -> None:
    token = auth.issue_token(USER)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    for bad in ("not-a-jwt", tampered, auth.issue_token(USER, aud="other"), auth.issue_token(USER, iss="other")):
        response = client.get("/auth/me", headers=bearer(bad))
        assert_error(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="mockauth", error="invalid_token"')


def test_me_with_expired_token_says_token_expired(client: Client, auth: MockAuth) -> None:
    response = client.get("/auth/me", headers=bearer(auth.issue_token(USER, expires_in=-1)))
    body = assert_error(response, 401, "token_expired")
    assert "expired" in body["error_description"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_signed_with_another_secret_is_refused(client: Client) -> None:
    other = MockAuth.from_fixtures(secret="another-secret-that-is-at-least-32-bytes-long")
    response = client.get("/auth/me", headers=bearer(other.issue_token(USER)))
    assert_error(response, 401, "invalid_token")


def test_refresh_rotates_and_refuses_reuse(client: Client) -> None:
    first = login(client).get_json()
    second = client.post("/auth/refresh", data={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.headers["Cache-Control"] == "no-store"
    rotated = second.get_json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert client.get("/auth/me", headers=bearer(rotated["access_token"])).status_code == 200
    reuse = client.post("/auth/refresh", data={"refresh_token": first["refresh_token"]})
    assert_error(reuse, 401, "invalid_token")
    # Reuse revokes the whole family: the rotated refresh token is dead too.
    assert_error(client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401, "invalid_token")


def test_refresh_with_unknown_token(client: Client) -> None:
    assert_error(client.post("/auth/refresh", data={"refresh_token": "nope"}), 401, "invalid_token")


def test_refresh_refused_for_a_user_locked_since_login(client: Client, auth: MockAuth) -> None:
    refresh_token = login(client).get_json()["refresh_token"]
    auth.update_user(USER, locked=True)
    assert_error(client.post("/auth/refresh", data={"refresh_token": refresh_token}), 403, "account_locked")


def test_logout_revokes_access_and_refresh(client: Client) -> None:
    tokens = login(client).get_json()
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert_error(client.get("/auth/me", headers=bearer(tokens["access_token"])), 401, "invalid_token")
    assert_error(client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}), 401, "invalid_token")
    assert_error(client.post("/auth/logout", headers=bearer(tokens["access_token"])), 401, "invalid_token")


def test_logout_without_token(client: Client) -> None:
    response = client.post("/auth/logout")
    assert_error(response, 401, "invalid_token")
    assert "WWW-Authenticate" in response.headers


def test_jwks_under_hs256_holds_only_the_id_token_key(client: Client) -> None:
    # The HS256 secret is never published; ID tokens are signed RS256 with a key made
    # on first use, the one key of the set (OpenID Connect Discovery requires RS256).
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0] and "k" not in keys[0]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_asymmetric_tokens_verify_with_the_published_key(algorithm: str) -> None:
    auth = MockAuth.from_fixtures(algorithm=algorithm)
    client = auth.test_client()
    token = login(client).get_json()["access_token"]
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == algorithm and keys[0]["use"] == "sig"
    assert jwt.get_unverified_header(token)["kid"] == keys[0]["kid"]
    public_key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, public_key, algorithms=[algorithm], audience="mockauth")
    assert claims["sub"] == USER
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200


def test_key_file_is_loaded(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    auth = MockAuth.from_fixtures(algorithm="ES256", key_file=str(path))
    claims = jwt.decode(auth.issue_token(USER), key.public_key(), algorithms=["ES256"], audience="mockauth")
    assert claims["sub"] == USER


def test_discovery_points_at_the_endpoints(client: Client) -> None:
    body = client.get("/.well-known/openid-configuration", base_url="http://auth.test:9000").get_json()
    assert body["issuer"] == "http://auth.test:9000"
    assert body["jwks_uri"] == "http://auth.test:9000/.well-known/jwks.json"
    assert body["token_endpoint"] == "http://auth.test:9000/oauth/token"
    assert body["userinfo_endpoint"] == "http://auth.test:9000/oauth/userinfo"


def test_health_and_openapi(client: Client) -> None:
    assert client.get("/health").get_json() == {"status": "ok"}
    document = client.get("/openapi.yaml")
    assert document.status_code == 200
    assert "operationId: login" in document.get_data(as_text=True)


# -- request hygiene ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [{}, {"username": USER}, {"password": PASSWORD}, {"username": "", "password": PASSWORD}, {"username": USER, "password": ""}],
)
def test_missing_or_empty_fields(client: Client, data: dict[str, str]) -> None:
    body = assert_error(client.post("/auth/login", data=data), 400, "invalid_request")
    assert "'username'" in body["error_description"] or "'password'" in body["error_description"]


def test_no_body_at_all(client: Client) -> None:
    assert_error(client.post("/auth/login"), 400, "invalid_request")


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_invalid_json(client: Client, body: bytes) -> None:
    assert_error(client.post("/auth/login", data=body, content_type="application/json"), 400, "invalid_request")


def test_json_fields_must_be_strings(client: Client) -> None:
    body = assert_error(client.post("/auth/login", json={"username": 5, "password": PASSWORD}), 400, "invalid_request")
    assert "'username'" in body["error_description"]


def test_deeply_nested_json(client: Client) -> None:
    nested = "[" * 50_000 + "]" * 50_000
    response = client.post("/auth/login", data=nested, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response.get_json()["error"] in ("invalid_request", "request_too_large")


def test_repeated_known_field_is_refused_unknown_ones_ignored(client: Client) -> None:
    repeated = "username=a&username=b&password=x"
    assert_error(client.post("/auth/login", data=repeated, content_type="application/x-www-form-urlencoded"), 400, "invalid_request")
    extra = f"username={USER}&password={PASSWORD}&extra=1&extra=2&scope=read"
    assert client.post("/auth/login", data=extra, content_type="application/x-www-form-urlencoded").status_code == 200
    assert client.post("/auth/login", json={"username": USER, "password": PASSWORD, "extra": {"a": [1]}}).status_code == 200


def test_duplicate_json_keys_are_refused(client: Client) -> None:
    body = '{"username": "a", "username": "b", "password": "x"}'
    assert_error(client.post("/auth/login", data=body, content_type="application/json"), 400, "invalid_request")


def test_non_utf8_form(client: Client) -> None:
    response = client.post("/auth/login", data=b"username=%ff%fe&password=x", content_type="application/x-www-form-urlencoded")
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_unsupported_content_type(client: Client, content_type: str) -> None:
    assert_error(client.post("/auth/login", data=b"x=1", content_type=content_type), 415, "unsupported_media_type")


def test_body_over_the_limit(auth: MockAuth) -> None:
    client = MockAuth.from_fixtures(max_body_size=1024).test_client()
    big = "username=" + "a" * 2000 + "&password=x"
    response = client.post("/auth/login", data=big, content_type="application/x-www-form-urlencoded")
    assert_error(response, 413, "request_too_large")


def test_chunked_body_over_the_limit_is_refused_not_truncated() -> None:
    client = MockAuth.from_fixtures(max_body_size=100).test_client()
    body = ("username=" + USER + "&password=" + PASSWORD + "&pad=" + "x" * 200).encode()
    response = client.post(
        "/auth/login",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/x-www-form-urlencoded"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "request_too_large")


def test_unknown_path_is_json_404(client: Client) -> None:
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/auth/login/extra"), 404, "not_found")


def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = client.get("/auth/login")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    response = client.post("/auth/me")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


def test_head_on_a_get_operation(client: Client) -> None:
    response = client.head("/health")
    assert response.status_code == 200
    assert response.get_data() == b""


def test_a_bug_answers_json_500_and_is_kept_for_check(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(app: object, call: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(auth.app.handlers, "health", broken)
    auth.log_stream = io.StringIO()
    response = auth.test_client().get("/health")
    body = assert_error(response, 500, "server_error")
    assert "bug" in body["error_description"]
    with pytest.raises(ServerError, match="boom"):
        auth.check()
    auth.check()  # reported once


def test_issue_token_overrides_and_unknown_user(auth: MockAuth) -> None:
    token = auth.issue_token(USER, expires_in=60, role="tester")
    claims = jwt.decode(token, DEFAULT_SECRET, algorithms=["HS256"], audience="mockauth")
    assert claims["exp"] - claims["iat"] == 60 and claims["role"] == "tester"
    with pytest.raises(UnknownUserError, match="nobody"):
        auth.issue_token("nobody")


def test_error_bodies_are_plain_json(client: Client) -> None:
    raw = client.get("/nope").get_data()
    assert set(json.loads(raw)) == {"error", "error_description"}


# -- a bug never grows the server, and answering one never fails ------------------------


def test_bugs_kept_for_check_are_bounded(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    from mockauth._app.wsgi import MAX_ERRORS

    def broken(app: object, call: object) -> None:
        raise RuntimeError("boom " + "x" * 4096)

    monkeypatch.setitem(auth.app.handlers, "health", broken)
    auth.log_stream = io.StringIO()
    client = auth.test_client()
    for _ in range(MAX_ERRORS + 25):
        assert_error(client.get("/health"), 500, "server_error")
    assert len(auth.app.errors) == MAX_ERRORS
    with pytest.raises(ServerError, match=f"and {MAX_ERRORS + 24} more"):
        auth.check()
    auth.app.keep_errors = False  # what `mockauth serve` sets: nothing will call check()
    assert_error(client.get("/health"), 500, "server_error")
    assert auth.app.errors == [] and auth.app.errors_dropped == 0
    assert auth.log_stream.getvalue().count("error: health: RuntimeError: boom") == MAX_ERRORS + 26  # each logged


def test_the_last_resort_answer_is_json_whatever_failed(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    auth.log_stream = io.StringIO()

    def broken_answer(environ: object) -> None:
        raise RuntimeError("outside any handler")

    monkeypatch.setattr(auth.app, "answer", broken_answer)
    body = assert_error(auth.test_client().get("/health"), 500, "server_error")
    assert "RuntimeError" in body["error_description"]

    def broken_log(message: str) -> None:
        raise OSError("the log itself is gone")

    monkeypatch.setattr(auth.app, "log", broken_log)
    response = auth.test_client().get("/health")
    assert_error(response, 500, "server_error")  # even answering the bug failed: fixed JSON
    errors, _ = auth.app.take_errors()
    assert errors


def test_a_crash_on_a_lone_surrogate_never_logs_the_password(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug whose exception carries a request's text: the log says what failed, the
    # password stays out, and the report itself cannot fail on the surrogate.
    def broken(app: object, call: object) -> None:
        "secret-fixture-password\ud800".encode()

    monkeypatch.setitem(auth.app.handlers, "health", broken)
    auth.log_stream = io.StringIO()
    assert_error(auth.test_client().get("/health"), 500, "server_error")
    log = auth.log_stream.getvalue()
    assert "UnicodeEncodeError" in log and "secret-fixture-password" not in log.split("Traceback")[0]
    auth.app.take_errors()


# -- values refused where they are read -------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": "\\ud800", "password": "x"}',
        b'{"username": "user@example.com", "password": "\\udfff"}',
        b'{"username": "user@example.com", "password": NaN}',
        b'{"username": "user@example.com", "password": Infinity}',
        b'{"username": "user@example.com", "password": 1e400}',
    ],
)
def test_login_refuses_what_is_not_valid_text(client: Client, auth: MockAuth, body: bytes) -> None:
    assert_error(client.post("/auth/login", data=body, content_type="application/json"), 400, "invalid_request")
    assert client.get("/_mockauth/journal").status_code == 200  # what was journaled is JSON
    assert not auth.app.errors


def test_vary_origin_on_every_answer_cors_may_change(client: Client) -> None:
    for response in (
        client.get("/.well-known/jwks.json"),
        client.get("/.well-known/jwks.json", headers={"Origin": "https://evil.example"}),
        client.get("/nope"),
        login(client, password="wrong"),
        client.options("/auth/login", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}),
    ):
        assert "Origin" in response.headers.get("Vary", ""), response.status_code
    assert response.headers.get_all("Vary").count("Origin") <= 1  # once, not twice


def test_no_store_on_every_answer_that_carries_a_token(client: Client) -> None:
    tokens = login(client).get_json()
    for response in (
        client.post("/auth/refresh", data={"refresh_token": tokens["refresh_token"]}),
        client.post("/_mockauth/tokens", json={"username": USER}),
        client.post("/_mockauth/tokens/decode", json={"token": tokens["access_token"]}),
        client.get("/_mockauth/users?passwords=true"),
        client.get("/auth/me", headers=bearer(tokens["access_token"])),
    ):
        assert response.status_code in (200, 201)
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_logins_leave_nothing_for_the_garbage_collector() -> None:
    # Each request's objects go when their last reference does (no cycle between the
    # request and its environ), and the refresh token a login keeps, with its place in
    # the expiry heap, is plain data the collector stops tracking: a server at 100,000
    # refresh tokens spent a twentieth of its time in the collector.
    import gc

    from werkzeug.test import EnvironBuilder

    app = MockAuth.from_fixtures(journal_size=10).app  # the journal's few entries are tracked
    body = f"username={USER}&password={PASSWORD}".encode()

    def log_in() -> None:
        environ = EnvironBuilder(
            "/auth/login", method="POST", data=body, content_type="application/x-www-form-urlencoded"
        ).get_environ()
        statuses: list[str] = []
        b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
        assert statuses == ["200 OK"]

    for _ in range(20):
        log_in()
    gc.collect()
    tracked_before = len(gc.get_objects())
    gc.disable()
    try:
        for _ in range(300):
            log_in()
        assert gc.collect() == 0  # nothing left in a cycle
    finally:
        gc.enable()
    assert len(gc.get_objects()) - tracked_before < 30  # 300 refresh tokens kept, none tracked
