"""OAuth 2.0 and OpenID Connect through the in-process client: the RFCs' errors, codes,
PKCE, refresh, sessions, logout, introspection, revocation, the issuer, and the Python
and control-API doors to them. Tests that use `auth` run on every store."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import assert_error, bearer
from oauth_support import DEMO_BASIC as BASIC
from oauth_support import DEMO_REDIRECT as REDIRECT
from oauth_support import hidden_fields, pkce_pair, query_of
from werkzeug.test import Client, TestResponse

from mockauth import ConfigError, FixtureError, MockAuth, load_fixtures

STORES = ("memory", "redis", "redis-pair")


def token(client: Client, form: dict[str, str], headers: dict[str, str] | None = None) -> TestResponse:
    return client.post("/oauth/token", data=form, headers=BASIC if headers is None else headers)


def password_grant(client: Client, username: str = "admin", password: str = "adminpassword", **extra: str) -> Any:
    answer = token(client, {"grant_type": "password", "username": username, "password": password, **extra})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def code_for(client: Client, client_id: str = "demo-client", user: str = "admin", **extra: str) -> tuple[str, str]:
    """(code, verifier) from the login page, a one-click sign-in."""
    verifier, challenge = pkce_pair()
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s",
             "scope": "openid profile", "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    page = client.get("/oauth/authorize", query_string=query)
    assert page.status_code == 200, page.get_data(as_text=True)
    answer = client.post("/oauth/authorize", data={**hidden_fields(page.get_data(as_text=True)), "one_click": user})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return query_of(answer.headers["Location"])["code"], verifier


def exchange(client: Client, code: str, verifier: str, client_id: str = "demo-client", **extra: str) -> TestResponse:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
            **extra}
    if client_id != "demo-client":
        return token(client, {**form, "client_id": client_id}, headers={})
    return token(client, form)


# -- the token endpoint's errors (RFC 6749 5.2) -------------------------------------------

GOOD = {"grant_type": "password", "username": "admin", "password": "adminpassword"}


@pytest.mark.parametrize(("form", "headers", "status", "error"), [
    ({"username": "admin", "password": "adminpassword"}, BASIC, 400, "invalid_request"),
    ({**GOOD, "grant_type": "implicit"}, BASIC, 400, "unsupported_grant_type"),
    (GOOD, {}, 401, "invalid_client"),
    (GOOD, {"Authorization": "Basic " + base64.b64encode(b"demo-client:nope").decode()}, 401, "invalid_client"),
    (GOOD, {"Authorization": "Basic " + base64.b64encode(b"nobody:demo-secret").decode()}, 401, "invalid_client"),
    (GOOD, {"Authorization": "Basic !!!"}, 401, "invalid_client"),
    ({**GOOD, "client_secret": "demo-secret"}, BASIC, 400, "invalid_request"),
    ({**GOOD, "client_id": "demo-spa", "client_secret": "x"}, {}, 401, "invalid_client"),
    ({**GOOD, "client_id": "demo-spa"}, {}, 400, "unauthorized_client"),
    ({**GOOD, "scope": "openid admin"}, BASIC, 400, "invalid_scope"),
    ({**GOOD, "password": "wrong"}, BASIC, 400, "invalid_grant"),
    ({**GOOD, "username": "nobody"}, BASIC, 400, "invalid_grant"),
    ({**GOOD, "username": "locked@example.com", "password": "lockedpassword"}, BASIC, 400, "invalid_grant"),
    ({"grant_type": "refresh_token", "refresh_token": "unknown"}, BASIC, 400, "invalid_grant"),
    ({"grant_type": "authorization_code", "code": "unknown"}, BASIC, 400, "invalid_grant"),
])
def test_token_errors(client: Client, form: dict[str, str], headers: dict[str, str], status: int, error: str) -> None:
    answer = assert_error(token(client, form, headers), status, error)
    if status == 401:
        assert token(client, form, headers).headers["WWW-Authenticate"] == 'Basic realm="mockauth"'
    assert "demo-secret" not in answer["error_description"]  # never echoed


def test_a_repeated_field_is_refused(client: Client) -> None:
    body = "grant_type=password&username=admin&username=root&password=adminpassword"
    answer = client.post("/oauth/token", data=body, headers={**BASIC, "Content-Type": "application/x-www-form-urlencoded"})
    assert_error(answer, 400, "invalid_request")


def test_token_answers_are_not_cached_and_carry_the_granted_scope(client: Client) -> None:
    answer = token(client, {**GOOD, "scope": "email openid"})
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["Pragma"] == "no-cache"
    body = answer.get_json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "email openid")
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["client_id"], claims["scope"], claims["sub"]) == ("demo-client", "email openid", "admin")


def test_client_credentials_is_the_clients_own_token(client: Client) -> None:
    body = token(client, {"grant_type": "client_credentials", "scope": "api:read"}).get_json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["client_id"], claims["scope"]) == ("demo-client", "demo-client", "api:read")
    assert "refresh_token" not in body and "id_token" not in body


# -- authorization codes and PKCE -----------------------------------------------------------


def test_a_code_is_single_use_and_its_reuse_revokes_its_tokens(client: Client) -> None:
    code, verifier = code_for(client)
    first = exchange(client, code, verifier)
    assert first.status_code == 200
    access = first.get_json()["access_token"]
    assert client.get("/oauth/userinfo", headers=bearer(access)).status_code == 200
    assert_error(exchange(client, code, verifier), 400, "invalid_grant")
    assert client.get("/oauth/userinfo", headers=bearer(access)).status_code == 401  # RFC 6749 4.1.2


def test_one_code_raced_from_ten_threads_is_exchanged_once(client: Client) -> None:
    code, verifier = code_for(client)
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: exchange(client, code, verifier).status_code, range(10)))
    assert sorted(statuses) == [200] + [400] * 9


def test_a_code_expires_on_the_mocks_clock(auth: MockAuth, client: Client) -> None:
    code, verifier = code_for(client)
    auth.clock.advance(61)
    answer = assert_error(exchange(client, code, verifier), 400, "invalid_grant")
    assert "expired" in answer["error_description"]


@pytest.mark.parametrize(("change", "words"), [
    ({"code_verifier": "x" * 43}, "does not match"),
    ({"code_verifier": ""}, "send its code_verifier"),
    ({"redirect_uri": "http://127.0.0.1:5000/other"}, "redirect_uri"),
])
def test_a_code_needs_its_verifier_and_redirect_uri(client: Client, change: dict[str, str], words: str) -> None:
    code, verifier = code_for(client)
    answer = assert_error(exchange(client, code, verifier, **change), 400, "invalid_grant")
    assert words in answer["error_description"]


def test_a_code_of_another_client_is_refused(client: Client) -> None:
    code, verifier = code_for(client, "demo-spa")
    assert_error(exchange(client, code, verifier), 400, "invalid_grant")


@pytest.mark.parametrize(("query", "error"), [
    ({"code_challenge": None}, "invalid_request"),  # PKCE required for the public client
    ({"code_challenge_method": "plain"}, "invalid_request"),  # demo-spa allows S256 only
    ({"code_challenge": "short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "openid api:write"}, "invalid_scope"),
    ({"prompt": "none"}, "login_required"),
    ({"prompt": "sometimes"}, "invalid_request"),
    ({"request": "eyJ"}, "request_not_supported"),
    ({"response_mode": "fragment"}, "invalid_request"),  # discovery lists query alone
    ({"response_mode": "form_post"}, "invalid_request"),
])
def test_authorization_errors_go_back_to_the_client(client: Client, query: dict[str, str | None], error: str) -> None:
    _, challenge = pkce_pair()
    full = {"response_type": "code", "client_id": "demo-spa", "redirect_uri": REDIRECT, "state": "s<1>",
            "code_challenge": challenge, "code_challenge_method": "S256", **query}
    answer = client.get("/oauth/authorize", query_string={k: v for k, v in full.items() if v is not None})
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    back = query_of(location)
    assert (back["error"], back["state"], back["iss"]) == (error, "s<1>", "http://localhost")
    assert back["error_description"]


@pytest.mark.parametrize(("query", "status"), [
    ({"client_id": "nobody"}, 401),
    ({"redirect_uri": "https://evil.example/cb"}, 403),
    ({"redirect_uri": "http://127.0.0.1:5000/cb#fragment"}, 403),
    ({"redirect_uri": None}, 400),
    ({"client_id": None}, 400),
])
def test_a_bad_client_or_redirect_uri_gets_a_page_never_a_redirect(
    client: Client, query: dict[str, str | None], status: int
) -> None:
    full = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, **query}
    answer = client.get("/oauth/authorize", query_string={k: v for k, v in full.items() if v is not None})
    assert answer.status_code == status and answer.mimetype == "text/html"
    assert "Location" not in answer.headers


def test_the_page_escapes_what_the_request_carries(client: Client) -> None:
    evil = '"><script>alert(1)</script>'
    page = client.get("/oauth/authorize", query_string={
        "response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "state": evil,
        "login_hint": evil,
    })
    text = page.get_data(as_text=True)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # no script at all
    assert page.headers["X-Frame-Options"] == "DENY"


# -- the session of the login page ---------------------------------------------------------


def test_a_session_signs_in_silently_until_it_ends(auth: MockAuth) -> None:
    browser = Client(auth.app)  # with cookies
    code_for(browser)
    _, challenge = pkce_pair()
    silent = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT,
              "code_challenge": challenge, "code_challenge_method": "S256", "prompt": "none"}
    assert "code" in query_of(browser.get("/oauth/authorize", query_string=silent).headers["Location"])
    # max_age older than the sign-in: the page again (prompt=none: login_required).
    auth.clock.advance(30)
    assert query_of(browser.get("/oauth/authorize", query_string={**silent, "max_age": "10"}).headers["Location"])[
        "error"] == "login_required"
    assert browser.get("/oauth/authorize", query_string={**silent, "prompt": "login"}).status_code == 200
    browser.get("/oauth/logout")
    assert query_of(browser.get("/oauth/authorize", query_string=silent).headers["Location"])[
        "error"] == "login_required"


def test_a_session_expires_on_the_clock_and_with_its_account(auth: MockAuth) -> None:
    browser = Client(auth.app)
    code_for(browser, user="user@example.com")
    _, challenge = pkce_pair()
    silent = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT,
              "code_challenge": challenge, "prompt": "none"}
    auth.update_user("user@example.com", locked=True)
    assert query_of(browser.get("/oauth/authorize", query_string=silent).headers["Location"])["error"] == "login_required"
    auth.update_user("user@example.com", locked=False)
    assert "code" in query_of(browser.get("/oauth/authorize", query_string=silent).headers["Location"])
    auth.clock.advance(3601)
    assert query_of(browser.get("/oauth/authorize", query_string=silent).headers["Location"])["error"] == "login_required"


def login_page_form(client: Client, username: str, password: str) -> TestResponse:
    query = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT, "state": "s"}
    page = client.get("/oauth/authorize", query_string=query)
    return client.post("/oauth/authorize", data={
        **hidden_fields(page.get_data(as_text=True)), "username": username, "password": password,
    })


def test_a_one_time_code_is_the_login_pages_second_step(auth: MockAuth, client: Client) -> None:
    step = login_page_form(client, "mfa@example.com", "secretpassword")
    assert step.status_code == 200 and 'data-kind="mfa"' in step.get_data(as_text=True)
    fields = hidden_fields(step.get_data(as_text=True))
    wrong = client.post("/oauth/authorize", data={**fields, "code": "000000"})
    assert wrong.status_code == 401 and 'data-kind="mfa"' in wrong.get_data(as_text=True)
    assert "id=error" in wrong.get_data(as_text=True)
    code, _ = auth.state.challenges.current_code(auth.user("mfa@example.com"))
    right = client.post("/oauth/authorize", data={**hidden_fields(wrong.get_data(as_text=True)), "code": code})
    assert right.status_code == 303 and "code" in query_of(right.headers["Location"])
    # The password grant has no second step to ask: refused, never a way around the code.
    refused = token(client, {"grant_type": "password", "username": "mfa@example.com", "password": "secretpassword"})
    assert "one-time code" in assert_error(refused, 400, "invalid_grant")["error_description"]


def test_an_expired_password_is_changed_on_the_login_page(client: Client) -> None:
    step = login_page_form(client, "expired@example.com", "secretpassword")
    assert 'data-kind="password"' in step.get_data(as_text=True)
    weak = client.post("/oauth/authorize", data={**hidden_fields(step.get_data(as_text=True)), "new_password": "x"})
    assert weak.status_code == 400 and 'data-kind="password"' in weak.get_data(as_text=True)
    changed = client.post("/oauth/authorize", data={
        **hidden_fields(weak.get_data(as_text=True)), "new_password": "a-new-long-password",
    })
    assert changed.status_code == 303 and "code" in query_of(changed.headers["Location"])
    password_grant(client, "expired@example.com", "a-new-long-password")  # the new one, at once


def test_the_mfa_required_mode_reaches_the_login_page(auth: MockAuth, client: Client) -> None:
    auth.fail("mfa_required", operation="authorize_login", times=1)
    step = login_page_form(client, "admin", "adminpassword")
    assert 'data-kind="mfa"' in step.get_data(as_text=True)
    done = client.post("/oauth/authorize", data={**hidden_fields(step.get_data(as_text=True)), "code": "123456"})
    assert done.status_code == 303


def test_the_one_click_buttons_say_what_each_sign_in_meets(client: Client) -> None:
    query = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT}
    page = client.get("/oauth/authorize", query_string=query).get_data(as_text=True)
    buttons = dict(re.findall(r'data-user="([^"]+)"><span>[^<]*</span>(.*?)</button>', page))
    badges = {user: re.findall(r'class="badge [^"]*">([^<]*)<', shown) for user, shown in buttons.items()}
    assert badges["locked@example.com"] == ["locked"]
    assert badges["mfa@example.com"] == ["mfa"]  # the page asks for the code next, as on the dashboard
    assert badges["expired@example.com"] == ["password expired"]
    assert badges["slow@example.com"] == ["mode slow:delay=2"]
    assert badges["admin"] == []


def test_one_click_is_off_behind_an_admin_token() -> None:
    auth = MockAuth.from_fixtures(admin_token="a-long-admin-token-0123")
    client = Client(auth.app)
    query = {"response_type": "code", "client_id": "demo-client", "redirect_uri": REDIRECT}
    page = client.get("/oauth/authorize", query_string=query)
    assert "one_click" not in page.get_data(as_text=True)
    refused = client.post("/oauth/authorize", data={**query, "one_click": "admin"})
    assert refused.status_code == 403 and "One-click sign-in is off" in refused.get_data(as_text=True)
    signed_in = client.post("/oauth/authorize", data={**query, "username": "admin", "password": "adminpassword"})
    assert signed_in.status_code == 303


# -- refresh, introspection, revocation, userinfo ---------------------------------------------


def test_refresh_rotates_narrows_and_detects_reuse(client: Client) -> None:
    first = password_grant(client, scope="openid profile email")
    second = token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "openid"})
    assert second.status_code == 200 and second.get_json()["scope"] == "openid"
    wider = token(client, {"grant_type": "refresh_token", "refresh_token": second.get_json()["refresh_token"],
                           "scope": "openid api:write"})
    assert_error(wider, 400, "invalid_scope")
    assert_error(token(client, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}), 400,
                 "invalid_grant")
    # Reuse revoked the family: the last refresh token is spent too.
    spent = token(client, {"grant_type": "refresh_token", "refresh_token": second.get_json()["refresh_token"]})
    assert_error(spent, 400, "invalid_grant")


def test_another_clients_refresh_token_is_refused_and_stays_usable(auth: MockAuth, client: Client) -> None:
    code, verifier = code_for(client, "demo-spa")
    spa = exchange(client, code, verifier, "demo-spa").get_json()
    assert_error(token(client, {"grant_type": "refresh_token", "refresh_token": spa["refresh_token"]}), 400,
                 "invalid_grant")
    mine = token(client, {"grant_type": "refresh_token", "refresh_token": spa["refresh_token"], "client_id": "demo-spa"},
                 headers={})
    assert mine.status_code == 200
    seed = client.post("/auth/login", data={"username": "admin", "password": "adminpassword"}).get_json()
    answer = assert_error(token(client, {"grant_type": "refresh_token", "refresh_token": seed["refresh_token"]}), 400,
                          "invalid_grant")
    assert "/auth/login" in answer["error_description"]


def test_introspection(auth: MockAuth, client: Client) -> None:
    grant = password_grant(client, scope="openid")
    for value in (grant["access_token"], grant["refresh_token"]):
        answer = client.post("/oauth/introspect", data={"token": value}, headers=BASIC).get_json()
        assert answer["active"] is True and answer["client_id"] == "demo-client" and answer["username"] == "admin"
    assert client.post("/oauth/introspect", data={"token": "nope"}, headers=BASIC).get_json() == {"active": False}
    public = client.post("/oauth/introspect", data={"token": grant["access_token"], "client_id": "demo-spa"})
    assert_error(public, 401, "invalid_client")
    auth.clock.advance(901)
    expired = client.post("/oauth/introspect", data={"token": grant["access_token"]}, headers=BASIC)
    assert expired.get_json() == {"active": False}


def test_revocation(client: Client) -> None:
    grant = password_grant(client, scope="openid")
    assert client.post("/oauth/revoke", data={"token": "unknown"}, headers=BASIC).status_code == 200
    other = client.post("/oauth/revoke", data={"token": grant["refresh_token"], "client_id": "demo-spa"})
    assert_error(other, 400, "invalid_grant")
    revoked = client.post("/oauth/revoke", data={"token": grant["refresh_token"]}, headers=BASIC)
    assert revoked.status_code == 200 and revoked.data == b""
    assert client.get("/oauth/userinfo", headers=bearer(grant["access_token"])).status_code == 401
    answer = client.post("/oauth/introspect", data={"token": grant["access_token"]}, headers=BASIC).get_json()
    assert answer == {"active": False}


def test_userinfo_needs_the_openid_scope(auth: MockAuth, client: Client) -> None:
    seed = auth.issue_token("admin")  # from /auth/login's kind: no scope
    refused = client.get("/oauth/userinfo", headers=bearer(seed))
    assert_error(refused, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    grant = password_grant(client, scope="openid email")
    assert client.post("/oauth/userinfo", headers=bearer(grant["access_token"])).get_json() == {
        "sub": "admin", "roles": ["admin", "user"], "email": "admin@example.com", "email_verified": True,
    }
    auth.clock.advance(901)
    expired = assert_error(client.get("/oauth/userinfo", headers=bearer(grant["access_token"])), 401, "invalid_token")
    assert "expired" in expired["error_description"]


# -- logout ---------------------------------------------------------------------------------


def test_end_session_redirects_only_where_the_client_registered(client: Client) -> None:
    id_token = password_grant(client, scope="openid")["id_token"]
    back = client.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "http://localhost:3000/bye", "state": "x",
    })
    assert back.status_code == 302 and back.headers["Location"] == "http://localhost:3000/bye?state=x"
    elsewhere = client.get("/oauth/logout", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"})
    assert elsewhere.status_code == 403 and "Location" not in elsewhere.headers
    forged = client.get("/oauth/logout", query_string={"id_token_hint": id_token[:-4] + "AAAA"})
    assert forged.status_code == 401
    assert "You are signed out." in client.post("/oauth/logout").get_data(as_text=True)


# -- the issuer -----------------------------------------------------------------------------


def test_the_issuer_is_the_url_the_mock_is_reached_at(auth: MockAuth) -> None:
    client = auth.test_client()
    for base in ("http://one.test:1", "https://two.test"):
        document = client.get("/.well-known/openid-configuration", base_url=base).get_json()
        assert document["issuer"] == base and document["token_endpoint"] == base + "/oauth/token"
    issued = client.post("/auth/login", data={"username": "admin", "password": "adminpassword"},
                         base_url="http://one.test:1").get_json()["access_token"]
    assert jwt.decode(issued, options={"verify_signature": False})["iss"] == "http://one.test:1"
    # Used through another URL of the same mock (another door, another worker): accepted.
    assert client.get("/auth/me", headers=bearer(issued), base_url="https://two.test").status_code == 200
    foreign = auth.issue_token("admin", iss="https://evil.example")
    assert_error(client.get("/auth/me", headers=bearer(foreign)), 401, "invalid_token")


def test_public_url_and_issuer_settings() -> None:
    behind = MockAuth.from_fixtures(public_url="https://auth.example.test/idp/").test_client()
    document = behind.get("/.well-known/openid-configuration").get_json()
    assert document["issuer"] == "https://auth.example.test/idp"
    assert document["authorization_endpoint"] == "https://auth.example.test/idp/oauth/authorize"
    fixed = MockAuth.from_fixtures(issuer="urn:example:idp")
    client = fixed.test_client()
    assert client.get("/.well-known/openid-configuration").get_json()["issuer"] == "urn:example:idp"
    issued = password_grant(client)["access_token"]
    assert jwt.decode(issued, options={"verify_signature": False})["iss"] == "urn:example:idp"
    with pytest.raises(ConfigError, match="public_url"):
        MockAuth(public_url="auth.example.test")


# -- the Python doors -----------------------------------------------------------------------


def test_authorize_without_the_page(auth: MockAuth, client: Client) -> None:
    verifier, challenge = pkce_pair()
    code = auth.authorize(client_id="demo-spa", user="admin@example.com", redirect_uri=REDIRECT,
                          scope="openid email", nonce="n1", code_challenge=challenge, code_challenge_method="S256")
    body = exchange(client, code, verifier, "demo-spa").get_json()
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["nonce"], claims["aud"]) == ("admin", "n1", "demo-spa")
    with pytest.raises(ConfigError, match="invalid_scope"):
        auth.authorize(client_id="demo-spa", user="admin", redirect_uri=REDIRECT, scope="api:write",
                       code_challenge=challenge)
    with pytest.raises(ConfigError, match="account is locked"):
        auth.authorize(client_id="demo-client", user="locked@example.com", redirect_uri=REDIRECT)
    with pytest.raises(ConfigError, match="no client 'nobody'"):
        auth.authorize(client_id="nobody", user="admin", redirect_uri=REDIRECT)
    url = auth.authorize_url(f"https://auth.example.test/oauth/authorize?response_type=code&client_id=demo-client"
                             f"&redirect_uri={REDIRECT}&state=abc&scope=nope", user="admin")
    assert query_of(url)["error"] == "invalid_scope" and query_of(url)["iss"] == "https://auth.example.test"


def test_clients_from_python_and_the_control_api(auth: MockAuth, client: Client) -> None:
    listed = client.get("/_mockauth/clients").get_json()
    assert sorted(c["client_id"] for c in listed) == ["demo-client", "demo-spa"]
    assert all("client_secret" not in c for c in listed)
    secrets = {c["client_id"]: c["client_secret"] for c in client.get("/_mockauth/clients?secrets=true").get_json()}
    assert secrets == {"demo-client": "demo-secret", "demo-spa": None}
    added = client.post("/_mockauth/clients", json={"client_id": "svc", "client_secret": "s3", "grant_types":
                                                    ["client_credentials"], "scopes": ["orders:read"]})
    assert added.status_code == 201 and added.get_json()["type"] == "confidential"
    minted = client.post("/_mockauth/clients/svc/token", json={}).get_json()
    claims = jwt.decode(minted["access_token"], options={"verify_signature": False})
    assert (claims["sub"], minted["scope"]) == ("svc", "orders:read")
    assert auth.client("svc").grant_types == ("client_credentials",)
    bad = client.post("/_mockauth/clients", json={"client_id": "x", "grant_types": ["client_credentials"]})
    assert "client_credentials needs a client_secret" in assert_error(bad, 400, "invalid_request")["error_description"]
    assert client.delete("/_mockauth/clients/svc").status_code == 204
    assert client.delete("/_mockauth/clients/svc").status_code == 404
    assert client.post("/_mockauth/clients/svc/token", json={}).status_code == 404
    jwt.decode(auth.client_token("demo-client"), options={"verify_signature": False})
    auth.reset()
    assert sorted(auth.clients) == ["demo-client", "demo-spa"]


def test_the_journal_shows_grants_with_their_secrets_redacted(auth: MockAuth, client: Client) -> None:
    code, verifier = code_for(client)
    exchange(client, code, verifier)
    token(client, {"grant_type": "password", "username": "admin", "password": "adminpassword",
                   "client_id": "demo-client", "client_secret": "demo-secret"}, headers={})
    entries = auth.journal.entries("token")
    assert [e.params["grant_type"] for e in entries] == ["authorization_code", "password"]
    assert entries[0].params["client_id"] == "demo-client"  # from the Basic header
    assert {entries[0].params[k] for k in ("code", "code_verifier")} == {"[redacted]"}
    assert {entries[1].params[k] for k in ("password", "client_secret")} == {"[redacted]"}
    assert [e.user for e in entries] == ["admin", "admin"]
    login = auth.journal.entries("authorize_login")[0]
    assert login.user == "admin" and login.params["code_challenge"] == "[redacted]"


@pytest.mark.parametrize(("registered", "given", "allowed"), [
    ("https://app.example.test/cb", "https://app.example.test/cb", True),
    ("https://app.example.test/cb", "https://app.example.test/cb/", False),
    ("https://app.example.test/cb", "https://app.example.test/cb?x=1", False),
    ("https://app.example.test/cb", "https://APP.example.test/cb", False),
    ("http://127.0.0.1:*", "http://127.0.0.1:49152/any/path?q=1", True),
    ("http://127.0.0.1:*", "http://127.0.0.1/no-port", True),
    ("http://127.0.0.1:*", "https://127.0.0.1:5000/", False),
    ("http://127.0.0.1:*", "http://127.0.0.1.evil.test:5000/", False),
    ("http://127.0.0.1:*", "http://evil@127.0.0.1:5000/", False),
    ("http://127.0.0.1:*", "http://127.0.0.1:5000/#frag", False),
    ("http://127.0.0.1:*", "http://127.0.0.1:99999/", False),
    ("http://localhost:*/cb", "http://localhost:3000/cb", True),
    ("http://localhost:*/cb", "http://localhost:3000/other", False),
    ("http://[::1]:*", "http://[::1]:8080/", True),
    ("http://127.0.0.1/cb", "http://127.0.0.1:8000/cb", True),  # RFC 8252 7.3: any port
    ("http://127.0.0.1:8000/cb", "http://127.0.0.1:9000/cb", False),
    ("com.example.app:/oauth", "com.example.app:/oauth", True),
])
def test_redirect_uri_matching(registered: str, given: str, allowed: bool) -> None:
    from mockauth._clients import redirect_matches

    assert redirect_matches(registered, given) is allowed


# -- clients in fixture files ------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fixtures.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("clients", "message"), [
    ("- {client_secret: s}", "clients[0]: client_id: required"),
    ("- {client_id: a b}", "clients[0] (a b): client_id: must be a non-empty string of printable ASCII without spaces or '/'"),
    ("- {client_id: a, redirect_uris: [http://x.test/cb], colour: red}", "clients[0] (a): colour: unknown field"),
    ("- {client_id: a}", "clients[0] (a): redirect_uris: the authorization_code grant needs at least one"),
    ("- {client_id: a, redirect_uris: http://x.test/cb}", "clients[0] (a): redirect_uris: must be a list"),
    ("- {client_id: a, redirect_uris: ['http://x.test:*']}", "only for loopback hosts"),
    ("- {client_id: a, redirect_uris: ['/cb']}", "must be an absolute URI"),
    ("- {client_id: a, redirect_uris: ['http://x.test/cb#f']}", "must not have a fragment"),
    ("- {client_id: a, grant_types: [implicit]}", "grant_types: 'implicit' is not one of"),
    ("- {client_id: a, grant_types: [client_credentials]}", "client_credentials needs a client_secret"),
    ("- {client_id: a, client_secret: s, grant_types: [password], scopes: ['a\"b']}", "is not a scope token"),
    ("- {client_id: a, client_secret: s, grant_types: [password], pkce_methods: [S512]}", "'S512' is not one of"),
    ("- {client_id: a, client_secret: s, grant_types: [password]}\n- {client_id: a, client_secret: t,"
     " grant_types: [password]}", "clients[1] (a): client_id: 'a' is already defined"),
    ("{client_id: a}", "clients: must be a list of clients"),
])
def test_a_wrong_client_entry_names_file_entry_and_field(tmp_path: Path, clients: str, message: str) -> None:
    path = write(tmp_path, "clients:\n" + "\n".join("  " + line for line in clients.splitlines()) + "\n")
    with pytest.raises(FixtureError) as error:
        load_fixtures(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_mockauth_check_reports_clients(tmp_path: Path) -> None:
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mockauth", "check", str(path)],
                              capture_output=True, text=True, timeout=60)

    bad = check(write(tmp_path, "clients:\n  - {client_id: svc, grant_types: [client_credentials]}\n"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "clients[0] (svc): grant_types: client_credentials needs a client_secret" in bad.stderr
    good = check(Path(__file__).resolve().parent.parent / "fixtures")
    assert good.returncode == 0 and "2 clients (demo-client, demo-spa)" in good.stdout


def test_a_fixture_reload_swaps_the_clients(tmp_path: Path) -> None:
    path = write(tmp_path, "users: []\nclients:\n  - {client_id: one, client_secret: s, grant_types: [password]}\n")
    auth = MockAuth.from_fixtures(path)
    write(tmp_path, "users: []\nclients:\n  - {client_id: two, client_secret: s, grant_types: [password]}\n")
    auth.replace_fixtures(load_fixtures(path))
    assert list(auth.clients) == ["two"]

