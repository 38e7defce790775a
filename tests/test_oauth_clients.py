"""Real OAuth 2.0 / OpenID Connect client libraries, used as their users use them, against
the mock: Authlib's requests and httpx clients and requests-oauthlib, over a live socket
and through the in-process doors. Nothing here is mockauth code but the server."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from oauth_support import click_user, pkce_pair, query_of

from mockauth import MockAuth, Server

USER, PASSWORD = "user@example.com", "secretpassword"
CLIENT_ID, CLIENT_SECRET = "demo-client", "demo-secret"
REDIRECT = "http://127.0.0.1:5000/callback"


@pytest.fixture(scope="module")
def auth() -> MockAuth:
    return MockAuth.from_fixtures()


@pytest.fixture(scope="module")
def server(auth: MockAuth) -> Iterator[Server]:
    with auth.serve() as running:
        yield running


@pytest.fixture
def url(auth: MockAuth, server: Server) -> str:
    auth.reset()
    return server.url


@pytest.fixture
def metadata(url: str) -> dict[str, Any]:
    answer = requests.get(url + "/.well-known/openid-configuration", timeout=10)
    answer.raise_for_status()
    document: dict[str, Any] = answer.json()
    return document


def authlib_httpx() -> Any:
    # Authlib 1.9.10 prefers the httpx2 fork and warns on import when it finds httpx;
    # its httpx client is what is tested here, warning and all.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations import httpx_client
    return httpx_client


def validate_id_token(id_token: str, metadata: dict[str, Any], *, nonce: str | None, access_token: str) -> Any:
    """What Authlib's OpenID client does with an ID token: verify it with the keys at
    jwks_uri, then check iss, aud, exp, iat, nonce and at_hash (CodeIDToken)."""
    from authlib.oidc.core import CodeIDToken

    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    decoded = jose_jwt.decode(id_token, keys, algorithms=metadata["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(
        decoded.claims, decoded.header, {"iss": {"values": [metadata["issuer"]]}},
        {"client_id": CLIENT_ID, "nonce": nonce, "access_token": access_token},
    )
    claims.validate()
    return claims


# -- Authlib, requests client ---------------------------------------------------------------


def test_authlib_password_then_refresh(auth: MockAuth, metadata: dict[str, Any]) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope="openid profile email")
    token = session.fetch_token(metadata["token_endpoint"], username=USER, password=PASSWORD)
    assert token["token_type"] == "Bearer" and token["scope"] == "openid profile email"
    me = session.get(metadata["userinfo_endpoint"], timeout=10).json()
    assert me["sub"] == USER and me["name"] == "Example User"
    refreshed = session.refresh_token(metadata["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert session.get(metadata["userinfo_endpoint"], timeout=10).status_code == 200
    # The first refresh token was spent: used again, it is refused, as RFC 6749 5.2 says.
    from authlib.integrations.base_client import OAuthError

    with pytest.raises(OAuthError) as refused:
        session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
    auth.journal.assert_called("token", user=USER, times=3)


def test_authlib_wrong_password_is_invalid_grant(metadata: dict[str, Any]) -> None:
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET)
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(metadata["token_endpoint"], username=USER, password="wrong")
    assert refused.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as bad_client:
        OAuth2Session(CLIENT_ID, "not-the-secret").fetch_token(
            metadata["token_endpoint"], username=USER, password=PASSWORD
        )
    assert bad_client.value.error == "invalid_client"


def test_authlib_client_credentials_with_post_auth(metadata: dict[str, Any]) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method="client_secret_post")
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials", scope="api:read")
    assert token["scope"] == "api:read" and "refresh_token" not in token and "id_token" not in token
    introspected = requests.post(
        metadata["introspection_endpoint"], data={"token": token["access_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET), timeout=10,
    ).json()
    assert introspected == {**introspected, "active": True, "client_id": CLIENT_ID, "sub": CLIENT_ID}


def test_authlib_authorization_code_with_pkce_and_id_token(auth: MockAuth, metadata: dict[str, Any]) -> None:
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(
        CLIENT_ID, CLIENT_SECRET, scope="openid profile email", redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier, nonce = generate_token(48), generate_token(16)
    uri, state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = click_user(requests.Session(), uri, "admin")
    assert callback.startswith(REDIRECT) and query_of(callback)["iss"] == metadata["issuer"]
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
    )
    claims = validate_id_token(token["id_token"], metadata, nonce=nonce, access_token=token["access_token"])
    assert (claims["sub"], claims["email"], claims["roles"]) == ("admin", "admin@example.com", ["admin", "user"])
    # The code was single use; the journal kept neither it nor the verifier.
    from authlib.integrations.base_client import OAuthError

    with pytest.raises(OAuthError):
        session.fetch_token(metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    params = auth.journal.entries("token")[0].params
    assert params["code"] == params["code_verifier"] == "[redacted]"


def test_authlib_public_client_pkce_without_secret(metadata: dict[str, Any]) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    verifier, _ = pkce_pair()
    session = OAuth2Session(
        "demo-spa", scope="openid email", redirect_uri="http://localhost:5173/", code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    uri, state = session.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    callback = click_user(requests.Session(), uri, USER)
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
    )
    assert token["id_token"] and token["refresh_token"]
    assert session.get(metadata["userinfo_endpoint"], timeout=10).json()["email"] == USER


# -- Authlib, httpx client ------------------------------------------------------------------


def test_authlib_httpx_over_a_socket(metadata: dict[str, Any]) -> None:
    client = authlib_httpx().OAuth2Client(CLIENT_ID, CLIENT_SECRET, scope="openid email")
    with client:
        token = client.fetch_token(metadata["token_endpoint"], username="admin", password="adminpassword")
        assert client.get(metadata["userinfo_endpoint"]).json()["email"] == "admin@example.com"
        refreshed = client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
        assert refreshed["access_token"] != token["access_token"]
    with authlib_httpx().OAuth2Client(CLIENT_ID, CLIENT_SECRET) as service:
        answer = service.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
        assert answer["scope"] == "api:read api:write"  # no scope asked: the client's own


def test_authlib_httpx_in_process(auth: MockAuth) -> None:
    base = "https://auth.example.test"
    client = authlib_httpx().OAuth2Client(
        CLIENT_ID, CLIENT_SECRET, scope="openid", redirect_uri=REDIRECT, code_challenge_method="S256",
        transport=auth.httpx_transport(),
    )
    with client:
        metadata = client.request("GET", base + "/.well-known/openid-configuration", withhold_token=True).json()
        assert metadata["issuer"] == base
        verifier, _ = pkce_pair()
        uri, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
        callback = auth.authorize_url(uri, user=USER)  # the login page, skipped
        token = client.fetch_token(
            metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
        )
        # openid alone: the user's own claims (roles), not the profile's (name).
        assert client.get(metadata["userinfo_endpoint"]).json() == {"sub": USER, "roles": ["user"]}
        assert token["scope"] == "openid"


# -- requests-oauthlib -----------------------------------------------------------------------


@pytest.fixture
def insecure(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses plain http unless told this is a test setup.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.mark.usefixtures("insecure")
def test_requests_oauthlib_password_grant_and_refresh(metadata: dict[str, Any]) -> None:
    from oauthlib.oauth2 import LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    scope = ["openid", "email"]
    session = OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT_ID, scope=scope), scope=scope)
    token = session.fetch_token(
        metadata["token_endpoint"], username=USER, password=PASSWORD, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    assert session.get(metadata["userinfo_endpoint"], timeout=10).json()["email"] == USER
    refreshed = session.refresh_token(
        metadata["token_endpoint"], refresh_token=token["refresh_token"], auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert refreshed["access_token"] != token["access_token"]


@pytest.mark.usefixtures("insecure")
def test_requests_oauthlib_wrong_password_raises_invalid_grant(metadata: dict[str, Any]) -> None:
    from oauthlib.oauth2 import InvalidGrantError, LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT_ID))
    with pytest.raises(InvalidGrantError):
        session.fetch_token(
            metadata["token_endpoint"], username=USER, password="wrong", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )


@pytest.mark.usefixtures("insecure")
def test_requests_oauthlib_backend_and_web_application(metadata: dict[str, Any]) -> None:
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    backend = OAuth2Session(client=BackendApplicationClient(client_id=CLIENT_ID))
    service = backend.fetch_token(metadata["token_endpoint"], client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert service["token_type"] == "Bearer"
    web = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT, scope=["openid", "profile"], pkce="S256")
    uri, _state = web.authorization_url(metadata["authorization_endpoint"])
    callback = click_user(requests.Session(), uri, USER)
    token = web.fetch_token(metadata["token_endpoint"], authorization_response=callback, client_secret=CLIENT_SECRET)
    assert token["id_token"]
    assert web.get(metadata["userinfo_endpoint"], timeout=10).json()["name"] == "Example User"


def test_requests_oauthlib_through_the_responses_door(auth: MockAuth, monkeypatch: pytest.MonkeyPatch) -> None:
    from oauthlib.oauth2 import LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    auth.reset()
    with auth.intercept("https://auth.example.test"):
        session = OAuth2Session(client=LegacyApplicationClient(client_id=CLIENT_ID))
        token = session.fetch_token(
            "https://auth.example.test/oauth/token", username=USER, password=PASSWORD,
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        )
        me = session.get("https://auth.example.test/auth/me")
    assert me.json()["sub"] == USER
    assert token["scope"] == ["openid", "profile", "email", "api:read", "api:write"]  # none asked: the client's
