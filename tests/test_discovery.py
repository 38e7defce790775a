"""The discovery document is true: a walk over it exercises every key and every value
it advertises, and a key without a check here fails the test (so a new one gets one)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from oauth_support import DEMO_REDIRECT as REDIRECT
from oauth_support import hidden_fields, pkce_pair, query_of
from werkzeug.test import Client, TestResponse

from mockauth import MockAuth

BASE = "http://auth.test:9000"
SECRETS = {"demo-client": "demo-secret"}


class Walker:
    """A browser (with cookies) and a client app, against one mock, reached at BASE."""

    def __init__(self, algorithm: str = "HS256") -> None:
        self.auth = MockAuth.from_fixtures(algorithm=algorithm)
        self.auth.update_user("slow@example.com", mode=None)  # its claims count, its 2 s do not
        self.browser = Client(self.auth.app)
        self.document: dict[str, Any] = self.get("/.well-known/openid-configuration").get_json()

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.browser.get(url, base_url=BASE, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.browser.post(url, base_url=BASE, **kwargs)

    def client(self, grant: str = "authorization_code", method: str = "client_secret_basic") -> str:
        """A bundled client that has `grant` and authenticates with `method`."""
        for client in self.auth.clients.values():
            if grant in client.grant_types and method in client.auth_methods:
                return client.client_id
        raise AssertionError(f"no client with {grant} and {method}")

    def token(self, client_id: str, form: dict[str, str], method: str | None = None) -> TestResponse:
        method = method or self.auth.client(client_id).auth_methods[0]
        headers, form = {}, {**form}
        if method == "client_secret_basic":
            pair = f"{client_id}:{SECRETS[client_id]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form["client_id"] = client_id
            if method == "client_secret_post":
                form["client_secret"] = SECRETS[client_id]
        return self.post(urlsplit(self.document["token_endpoint"]).path, data=form, headers=headers)

    def authorize(self, client_id: str, *, user: str = "admin", method: str = "S256", **extra: str) -> TestResponse:
        """The authorization request, and a click on `user` if the page is shown."""
        verifier, challenge = pkce_pair()
        self.verifier = verifier if method == "S256" else challenge
        query = {
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "st",
            "code_challenge": challenge, "code_challenge_method": method, **extra,
        }
        page = self.get(self.document["authorization_endpoint"], query_string=query)
        if page.status_code != 200:
            return page
        fields = hidden_fields(page.get_data(as_text=True))
        return self.post(urlsplit(self.document["authorization_endpoint"]).path, data={**fields, "one_click": user})

    def code_flow(self, client_id: str, *, method: str = "S256", **extra: str) -> dict[str, Any]:
        answer = self.authorize(client_id, method=method, **extra)
        query = query_of(answer.headers["Location"])
        assert "code" in query, query
        form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT,
                "code_verifier": self.verifier}
        tokens = self.token(client_id, form)
        assert tokens.status_code == 200, tokens.get_data(as_text=True)
        body: dict[str, Any] = tokens.get_json()
        return body

    def id_claims(self, id_token: str) -> dict[str, Any]:
        keys = self.get(urlsplit(self.document["jwks_uri"]).path).get_json()["keys"]
        header = jwt.get_unverified_header(id_token)
        key = next(jwt.PyJWK(k).key for k in keys if k["kid"] == header["kid"])
        claims: dict[str, Any] = jwt.decode(
            id_token, key, algorithms=self.document["id_token_signing_alg_values_supported"],
            audience=jwt.decode(id_token, options={"verify_signature": False})["aud"], issuer=self.document["issuer"],
        )
        return claims


# -- one check per key -------------------------------------------------------------------


def check_issuer(w: Walker, value: str) -> None:
    assert value == BASE
    assert jwt.decode(w.code_flow(w.client())["access_token"], options={"verify_signature": False})["iss"] == value


def _password_token(w: Walker) -> str:
    form = {"grant_type": "password", "username": "admin", "password": "adminpassword", "scope": "openid"}
    return str(w.token(w.client("password"), form).get_json()["access_token"])


def _basic(client_id: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{SECRETS[client_id]}".encode()).decode()}


ENDPOINT_CALLS: dict[str, Callable[[Walker, str], TestResponse]] = {
    "authorization_endpoint": lambda w, url: w.authorize(w.client()),
    "token_endpoint": lambda w, url: w.token(w.client("password"), {
        "grant_type": "password", "username": "admin", "password": "adminpassword"}),
    "userinfo_endpoint": lambda w, url: w.get(url, headers={"Authorization": "Bearer " + _password_token(w)}),
    "jwks_uri": lambda w, url: w.get(url),
    "end_session_endpoint": lambda w, url: w.get(url, query_string={
        "client_id": w.client(), "post_logout_redirect_uri": REDIRECT, "state": "bye"}),
    "introspection_endpoint": lambda w, url: w.post(
        url, data={"token": _password_token(w)}, headers=_basic(w.client("password"))),
    "revocation_endpoint": lambda w, url: w.post(
        url, data={"token": _password_token(w)}, headers=_basic(w.client("password"))),
}


def check_endpoint(key: str) -> Callable[[Walker, str], None]:
    def check(w: Walker, value: str) -> None:
        assert value.startswith(BASE + "/")
        answer = ENDPOINT_CALLS[key](w, value)
        assert answer.status_code in (200, 302, 303), (key, answer.get_data(as_text=True))
        if key == "end_session_endpoint":
            assert query_of(answer.headers["Location"]) == {"state": "bye"}
        if key == "jwks_uri":
            assert answer.get_json()["keys"]
    return check


def check_response_types(w: Walker, values: list[str]) -> None:
    for value in values:
        assert "code" in query_of(w.authorize(w.client(), response_type=value).headers["Location"])


def check_response_modes(w: Walker, values: list[str]) -> None:
    assert values == ["query"]
    location = w.authorize(w.client()).headers["Location"]
    assert location.startswith(REDIRECT + "?") and "code" in query_of(location)


def check_grant_types(w: Walker, values: list[str]) -> None:
    forms = {
        "password": {"grant_type": "password", "username": "admin", "password": "adminpassword"},
        "client_credentials": {"grant_type": "client_credentials"},
    }
    for value in values:
        client_id = w.client(value)
        if value in forms:
            answer = w.token(client_id, forms[value])
            assert answer.status_code == 200, (value, answer.get_json())
        elif value == "authorization_code":
            w.code_flow(client_id)
        else:
            refresh = w.code_flow(w.client("refresh_token"))["refresh_token"]
            answer = w.token(w.client("refresh_token"), {"grant_type": value, "refresh_token": refresh})
            assert answer.status_code == 200, answer.get_json()


def check_subject_types(w: Walker, values: list[str]) -> None:
    assert values == ["public"]  # the same sub, the username, for every client
    subs = {w.id_claims(w.code_flow(c.client_id)["id_token"])["sub"] for c in w.auth.clients.values()}
    assert subs == {"admin"}


def check_signing_algs(w: Walker, values: list[str]) -> None:
    id_token = w.code_flow(w.client(), scope="openid")["id_token"]
    assert jwt.get_unverified_header(id_token)["alg"] in values
    assert w.id_claims(id_token)["sub"] == "admin"


def _client_with(w: Walker, method: str) -> str:
    return next(c.client_id for c in w.auth.clients.values() if method in c.auth_methods)


def _own_token(w: Walker, client_id: str) -> str:
    """An access token issued to `client_id` (public clients get theirs by the code flow)."""
    if "password" in w.auth.client(client_id).grant_types:
        form = {"grant_type": "password", "username": "admin", "password": "adminpassword"}
        return str(w.token(client_id, form).get_json()["access_token"])
    return str(w.code_flow(client_id)["access_token"])


def _authenticated(w: Walker, client_id: str, method: str, data: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    if method == "client_secret_basic":
        return data, _basic(client_id)
    data = {**data, "client_id": client_id}
    if method == "client_secret_post":
        data["client_secret"] = SECRETS[client_id]
    return data, {}


def check_token_auth_methods(w: Walker, values: list[str]) -> None:
    for method in values:
        client_id = _client_with(w, method)
        if "password" in w.auth.client(client_id).grant_types:
            form = {"grant_type": "password", "username": "admin", "password": "adminpassword"}
            assert w.token(client_id, form, method).status_code == 200
        else:
            assert w.code_flow(client_id)["access_token"]  # a public client: none


def check_auth_methods_at(key: str) -> Callable[[Walker, list[str]], None]:
    def check(w: Walker, values: list[str]) -> None:
        for method in values:
            client_id = _client_with(w, method)
            data, headers = _authenticated(w, client_id, method, {"token": _own_token(w, client_id)})
            answer = w.post(urlsplit(w.document[key]).path, data=data, headers=headers)
            assert answer.status_code == 200, (key, method, answer.get_data(as_text=True))
    return check


def check_pkce_methods(w: Walker, values: list[str]) -> None:
    for method in values:
        client_id = next(
            c.client_id for c in w.auth.clients.values()
            if method in c.pkce_methods and "authorization_code" in c.grant_types
        )
        assert w.code_flow(client_id, method=method)["access_token"]


def check_scopes(w: Walker, values: list[str]) -> None:
    for scope in values:
        client = next(c for c in w.auth.clients.values() if scope in c.scopes and "password" in c.grant_types)
        form = {"grant_type": "password", "username": "admin", "password": "adminpassword", "scope": scope}
        assert w.token(client.client_id, form).get_json()["scope"] == scope


def check_claims(w: Walker, values: list[str]) -> None:
    seen: set[str] = set()
    for user in w.auth.users.values():
        if user.locked or user.disabled:
            continue
        # Signed in as the login page would (challenges passed), then the code exchanged.
        verifier, challenge = pkce_pair()
        code = w.auth.authorize(client_id=w.client(), user=user.username, redirect_uri=REDIRECT,
                                scope="openid profile email", code_challenge=challenge, code_challenge_method="S256")
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
        body = w.token(w.client(), form).get_json()
        seen |= set(w.id_claims(body["id_token"]))
        userinfo = w.get(urlsplit(w.document["userinfo_endpoint"]).path,
                         headers={"Authorization": "Bearer " + body["access_token"]})
        seen |= set(userinfo.get_json())
    assert set(values) <= seen, set(values) - seen


def check_prompts(w: Walker, values: list[str]) -> None:
    w.browser = Client(w.auth.app)  # a fresh browser: no session
    refused = query_of(w.authorize(w.client(), prompt="none").headers["Location"])
    assert refused["error"] == "login_required"
    w.code_flow(w.client())  # signs in: the browser has a session now
    for value in values:
        page = w.get(w.document["authorization_endpoint"], query_string={
            "response_type": "code", "client_id": w.client(), "redirect_uri": REDIRECT, "prompt": value,
            "code_challenge": pkce_pair()[1], "code_challenge_method": "S256",
        })
        if value == "none":
            assert page.status_code == 302 and "code" in query_of(page.headers["Location"])
        else:  # login, consent, select_account: the page, though signed in
            assert page.status_code == 200 and b"<form" in page.data


def check_not_supported(parameter: str, error: str) -> Any:
    def check(w: Walker, value: bool) -> None:
        assert value is False
        answer = w.get(w.document["authorization_endpoint"], query_string={
            "response_type": "code", "client_id": w.client(), "redirect_uri": REDIRECT, parameter: "x",
        })
        assert query_of(answer.headers["Location"])["error"] == error
    return check


def check_iss_parameter(w: Walker, value: bool) -> None:
    assert value is True
    assert query_of(w.authorize(w.client()).headers["Location"])["iss"] == w.document["issuer"]


CHECKS: dict[str, Callable[[Walker, Any], None]] = {
    "issuer": check_issuer,
    "authorization_endpoint": check_endpoint("authorization_endpoint"),
    "token_endpoint": check_endpoint("token_endpoint"),
    "userinfo_endpoint": check_endpoint("userinfo_endpoint"),
    "jwks_uri": check_endpoint("jwks_uri"),
    "end_session_endpoint": check_endpoint("end_session_endpoint"),
    "introspection_endpoint": check_endpoint("introspection_endpoint"),
    "revocation_endpoint": check_endpoint("revocation_endpoint"),
    "response_types_supported": check_response_types,
    "response_modes_supported": check_response_modes,
    "grant_types_supported": check_grant_types,
    "subject_types_supported": check_subject_types,
    "id_token_signing_alg_values_supported": check_signing_algs,
    "token_endpoint_auth_methods_supported": check_token_auth_methods,
    "introspection_endpoint_auth_methods_supported": check_auth_methods_at("introspection_endpoint"),
    "revocation_endpoint_auth_methods_supported": check_auth_methods_at("revocation_endpoint"),
    "code_challenge_methods_supported": check_pkce_methods,
    "scopes_supported": check_scopes,
    "claims_supported": check_claims,
    "prompt_values_supported": check_prompts,
    "claims_parameter_supported": lambda w, value: None if value is False else pytest.fail("claims"),
    "request_parameter_supported": check_not_supported("request", "request_not_supported"),
    "request_uri_parameter_supported": check_not_supported("request_uri", "request_uri_not_supported"),
    "authorization_response_iss_parameter_supported": check_iss_parameter,
}


@pytest.mark.parametrize("algorithm", ["HS256", "RS256", "ES256"])
def test_every_advertised_value_works(algorithm: str) -> None:
    walker = Walker(algorithm)
    assert set(walker.document) == set(CHECKS), "a key without a check (or a check without its key)"
    for key, value in walker.document.items():
        CHECKS[key](walker, value)
    assert not walker.auth.app.errors


def test_the_rfc_8414_document_is_the_same() -> None:
    walker = Walker()
    assert walker.get("/.well-known/oauth-authorization-server").get_json() == walker.document


def test_the_document_follows_the_clients_and_users() -> None:
    walker = Walker()
    for client_id in list(walker.auth.clients):
        walker.auth.remove_client(client_id)
    walker.auth.add_client({"client_id": "svc", "client_secret": "s", "grant_types": ["client_credentials"],
                            "scopes": ["orders:read"]})
    document = walker.get("/.well-known/openid-configuration").get_json()
    assert document["grant_types_supported"] == ["client_credentials"]
    assert document["scopes_supported"] == ["orders:read"]
    assert document["response_types_supported"] == [] and document["code_challenge_methods_supported"] == []
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
