"""The auth checks: the rules of an auth server that a schema cannot express, as a table
(``AUTH_CHECKS``) of functions over a ``Probe``; and what schemathesis' own checks mean."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._values import is_number
from .client import Exchange
from .probe import Failed, Login, Probe, Skipped, b64decode, b64encode, decoded, encode_json, jwt_parts
from .results import CLOCK_SKEW, LIFETIME_TOLERANCE, NON_ASCII_USERNAME


def check_login_succeeds(probe: Probe) -> None:
    exchange = probe.login()
    if exchange.status != 200:
        raise Failed(
            f"logging in with the given credentials gave {exchange.answer()}, not 200 with a token "
            "(are --username and --password right?)",
            exchange,
        )
    if not isinstance(exchange.field("access_token"), str) or not exchange.field("access_token"):
        raise Failed("the login answer has no access_token string", exchange)


def check_token_type(probe: Probe) -> None:
    login = probe.token()
    token_type = login.body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise Failed(f"token_type is {token_type!r}; it must be 'bearer'", login.exchange)


def _no_store(exchange: Exchange) -> bool:
    value = exchange.header("Cache-Control") or ""
    return "no-store" in [item.strip().lower() for item in value.split(",")]


def check_no_store(probe: Probe) -> None:
    login = probe.token()
    if not _no_store(login.exchange):
        raise Failed(
            "the login answer lacks 'Cache-Control: no-store', so caches may keep the token "
            "(RFC 6749 5.1)",
            login.exchange,
        )
    if login.refresh_token is not None:
        refreshed = probe.refresh(login.refresh_token)
        if refreshed.status == 200 and not _no_store(refreshed):
            raise Failed(
                "the refresh answer lacks 'Cache-Control: no-store', so caches may keep the token",
                refreshed,
            )


def check_access_token_is_jwt(probe: Probe) -> None:
    login = probe.token()
    parts = jwt_parts(login.access_token)
    if parts is None:
        raise Failed(
            "the access_token is not a JWT (three base64url parts: JSON header, JSON claims, "
            "signature)",
            login.exchange,
        )
    header, _, signature = parts
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise Failed(
            f"the access token's header says alg {alg!r}: it must be signed", login.exchange
        )
    if not signature:
        raise Failed("the access token has an empty signature", login.exchange)


def check_token_lifetime(probe: Probe) -> None:
    login = probe.token()
    _, claims, _ = decoded(login)
    missing = [name for name in ("exp", "iat") if not is_number(claims.get(name))]
    if missing:
        raise Failed(
            f"the access token has no numeric {' or '.join(missing)} claim, so it "
            + ("never expires" if "exp" in missing else "does not say when it was issued"),
            login.exchange,
        )
    expires_in = login.body.get("expires_in")
    if not is_number(expires_in):
        raise Failed("the login answer has no numeric expires_in", login.exchange)
    lifetime = claims["exp"] - claims["iat"]
    if abs(lifetime - expires_in) > LIFETIME_TOLERANCE:
        raise Failed(
            f"exp - iat is {lifetime:g} s but expires_in says {expires_in:g} s; they must agree",
            login.exchange,
        )
    if claims["exp"] < time.time() - CLOCK_SKEW:
        raise Failed(
            "the access token is issued already expired (exp is in the past)", login.exchange
        )


def _unknown_user() -> str:
    return f"mockauth-contract-no-such-user-{secrets.token_hex(4)}@example.invalid"


def _refused_login(exchange: Exchange, what: str) -> None:
    if exchange.status is None:
        raise Failed(f"{what}: {exchange.answer()}", exchange)
    if exchange.status == 200 or exchange.field("access_token"):
        raise Failed(f"{what} was accepted: the target handed out a token", exchange)
    if exchange.status != 401:
        raise Failed(f"{what} got {exchange.answer()}; openapi.yaml says 401", exchange)


def check_wrong_password(probe: Probe) -> None:
    _refused_login(probe.login(password=probe.wrong_password()), "a wrong password")
    _refused_login(probe.login(username=_unknown_user()), "an unknown user")


def _aspect(exchange: Exchange, label: str) -> Any:
    return exchange.status if label == "status" else exchange.field(label)


def check_no_user_enumeration(probe: Probe) -> None:
    wrong = probe.login(password=probe.wrong_password())
    unknown = probe.login(username=_unknown_user())
    if wrong.status == 200 or unknown.status == 200:
        raise Skipped("a wrong password or unknown user was let in (see wrong_password_refused)")
    for label in ("status", "error", "error_description"):
        one, other = _aspect(wrong, label), _aspect(unknown, label)
        if one != other:
            raise Failed(
                "a wrong password and an unknown user get different answers "
                f"({label} {one!r} vs {other!r}), which tells an attacker "
                "which usernames exist",
                wrong,
                unknown,
            )


def check_me_accepts_token(probe: Probe) -> None:
    login = probe.token()
    answer = probe.me(login.access_token)
    if answer.status != 200:
        raise Failed(f"/auth/me refused a token fresh from login: {answer.answer()}", answer)
    if not isinstance(answer.field("sub"), str):
        raise Failed("/auth/me answered without a 'sub' string", answer)


def check_missing_token(probe: Probe) -> None:
    probe.refused(probe.me(None), "a request with no Authorization header")


def check_malformed_token(probe: Probe) -> None:
    probe.refused(probe.me("not-a-jwt"), "the bearer token 'not-a-jwt'")
    probe.refused(
        probe.me(None, authorization="Basic dXNlcjpwYXNz"),
        "an Authorization header that is not Bearer",
    )


def check_tampered_token(probe: Probe) -> None:
    login = probe.working_token()
    _, claims, signature = decoded(login)
    head, body, _ = login.access_token.split(".")
    raw = bytearray(b64decode(signature) or b"\0")
    raw[0] ^= 0xFF  # a changed byte, not a changed last character: those bits may be unused
    probe.refused(
        probe.me(f"{head}.{body}.{b64encode(bytes(raw))}"), "a token with a changed signature"
    )
    longer = dict(
        claims, exp=(claims["exp"] if is_number(claims.get("exp")) else int(time.time())) + 86400
    )
    probe.refused(
        probe.me(f"{head}.{encode_json(longer)}.{signature}"),
        "a token whose claims were changed (exp pushed a day on) under the original signature",
    )


def check_alg_none(probe: Probe) -> None:
    login = probe.working_token()
    header, claims, _ = decoded(login)
    for alg in ("none", "None"):
        forged = f"{encode_json(dict(header, alg=alg))}.{encode_json(claims)}."
        probe.refused(probe.me(forged), f"an unsigned token (header alg '{alg}')")


def check_expired_token(probe: Probe) -> None:
    contract = probe.options
    if contract.expired_token:
        probe.working_token()
        probe.refused(probe.me(contract.expired_token), "the expired token given (--expired-token)")
        return
    login = probe.working_token()
    issued = time.monotonic()
    expires_in = login.body.get("expires_in")
    if not is_number(expires_in):
        raise Skipped(
            "the login answer has no expires_in, so there is no telling when a token "
            "expires; pass --expired-token TOKEN"
        )
    if expires_in > contract.expiry_wait:
        raise Skipped(
            f"tokens live {expires_in:g} s, longer than the {contract.expiry_wait:g} s "
            "this run waits; "
            "pass --expired-token TOKEN (one the target signed that has expired) to test it"
        )
    # Our own clock, from the login answer: the target's clock may be off from ours.
    time.sleep(max(0.0, issued + expires_in + 1.5 - time.monotonic()))
    probe.refused(
        probe.me(login.access_token), f"a token past its lifetime ({expires_in:g} s, waited out)"
    )


def _rotate(probe: Probe) -> tuple[Login, Exchange]:
    login = probe.token()
    if login.refresh_token is None:
        raise Skipped("the login answer has no refresh_token (it is optional in openapi.yaml)")
    return login, probe.refresh(login.refresh_token)


def check_refresh_rotates(probe: Probe) -> None:
    login, refreshed = _rotate(probe)
    if refreshed.status != 200:
        raise Failed(
            f"refreshing with a fresh refresh_token gave {refreshed.answer()}, not 200", refreshed
        )
    new_access, new_refresh = refreshed.field("access_token"), refreshed.field("refresh_token")
    if not isinstance(new_access, str) or not new_access:
        raise Failed("the refresh answer has no access_token", refreshed)
    if not isinstance(new_refresh, str) or not new_refresh:
        raise Failed(
            "the refresh answer has no new refresh_token: refresh tokens must rotate", refreshed
        )
    if new_refresh == login.refresh_token:
        raise Failed(
            "the refresh answer gave back the same refresh_token: it must rotate", refreshed
        )
    answer = probe.me(new_access)
    if answer.status != 200:
        raise Failed(
            f"/auth/me refused the access token from refresh: {answer.answer()}", refreshed, answer
        )


def check_refresh_reuse(probe: Probe) -> None:
    login, refreshed = _rotate(probe)
    if refreshed.status != 200:
        raise Skipped(f"refresh itself failed ({refreshed.answer()}; see refresh_rotates)")
    assert login.refresh_token is not None
    again = probe.refresh(login.refresh_token)
    if (
        again.status is None
        or again.status < 400
        or again.status >= 500
        or again.field("access_token")
    ):
        raise Failed(
            f"a refresh_token used once already was accepted again ({again.answer()}); "
            "a reused one must be refused with 401 (OAuth 2.0 Security BCP 4.14)",
            refreshed,
            again,
        )
    if again.status != 401:
        raise Failed(f"a reused refresh_token got {again.answer()}; openapi.yaml says 401", again)


def check_logout_revokes(probe: Probe) -> None:
    login = probe.working_token()
    out = probe.logout(login.access_token)
    if out.status is None or not 200 <= out.status < 300:
        raise Failed(f"logout with a valid token gave {out.answer()}, not 204", out)
    probe.refused(probe.me(login.access_token), "the access token after logout")
    if login.refresh_token is not None:
        again = probe.refresh(login.refresh_token)
        if again.status == 200:
            raise Failed(
                "the refresh_token issued with the access token still works after logout; "
                "logout must revoke it too",
                out,
                again,
            )


def check_error_body(probe: Probe) -> None:
    answers = [
        probe.login(password=probe.wrong_password()),
        probe.client.send("POST", "/auth/login", form=[("username", probe.options.username)]),
        probe.me(None),
        probe.me("not-a-jwt"),
        probe.refresh("mockauth-contract-not-a-refresh-token"),
    ]
    for answer in answers:
        if answer.status is None or answer.status < 400:
            continue
        body = answer.json()
        if not isinstance(body, dict):
            raise Failed(f"an error answer ({answer.status}) is not a JSON object", answer)
        missing = [
            n
            for n in ("error", "error_description")
            if not isinstance(body.get(n), str) or not body.get(n)
        ]
        if missing:
            raise Failed(
                f"an error answer ({answer.status}) has no {' or '.join(missing)} string", answer
            )
    if all(a.status is None or a.status < 400 for a in answers):
        raise Failed("none of the bad requests sent was refused", *answers)


def check_non_ascii_username(probe: Probe) -> None:
    for exchange in (
        probe.login(username=NON_ASCII_USERNAME, password="not-the-password"),
        probe.client.send(
            "POST",
            "/auth/login",
            json_body={"username": NON_ASCII_USERNAME, "password": "not-the-password"},
        ),
    ):
        if exchange.status is None or exchange.status >= 500:
            raise Failed(
                f"a non-ASCII username got {exchange.answer()}; it must get a 4xx", exchange
            )
        if exchange.status == 200 or exchange.status < 400:
            raise Failed(
                f"an unknown non-ASCII username was let in ({exchange.answer()})", exchange
            )


@dataclass(frozen=True)
class AuthCheck:
    name: str
    description: str
    run: Callable[[Probe], None]


AUTH_CHECKS: tuple[AuthCheck, ...] = (
    AuthCheck(
        "login_succeeds", "the given credentials get 200 and an access_token", check_login_succeeds
    ),
    AuthCheck("token_type_bearer", "token_type is 'bearer'", check_token_type),
    AuthCheck("token_no_store", "token answers carry Cache-Control: no-store", check_no_store),
    AuthCheck(
        "access_token_is_jwt",
        "the access token is a signed JWT (header alg is not 'none')",
        check_access_token_is_jwt,
    ),
    AuthCheck(
        "token_lifetime",
        "the token has exp and iat, and exp - iat agrees with expires_in",
        check_token_lifetime,
    ),
    AuthCheck(
        "wrong_password_refused",
        "a wrong password and an unknown user both get 401, no token",
        check_wrong_password,
    ),
    AuthCheck(
        "no_user_enumeration",
        "a wrong password and an unknown user get the same answer",
        check_no_user_enumeration,
    ),
    AuthCheck(
        "me_accepts_token",
        "/auth/me accepts a fresh access token and answers its sub",
        check_me_accepts_token,
    ),
    AuthCheck(
        "me_refuses_missing_token",
        "/auth/me without a token: 401 + WWW-Authenticate",
        check_missing_token,
    ),
    AuthCheck(
        "me_refuses_malformed_token",
        "/auth/me with a malformed token: 401 + WWW-Authenticate",
        check_malformed_token,
    ),
    AuthCheck(
        "me_refuses_tampered_token",
        "/auth/me with a changed signature or claims: 401 + WWW-Authenticate",
        check_tampered_token,
    ),
    AuthCheck(
        "me_refuses_alg_none",
        "/auth/me with an unsigned alg 'none' token: 401 + WWW-Authenticate",
        check_alg_none,
    ),
    AuthCheck(
        "me_refuses_expired_token",
        "/auth/me with an expired token: 401 + WWW-Authenticate",
        check_expired_token,
    ),
    AuthCheck(
        "refresh_rotates",
        "refresh gives a working access token and a new refresh_token",
        check_refresh_rotates,
    ),
    AuthCheck(
        "refresh_reuse_refused",
        "a refresh_token used once is refused the second time",
        check_refresh_reuse,
    ),
    AuthCheck(
        "logout_revokes",
        "after logout the access token (and its refresh_token) is refused",
        check_logout_revokes,
    ),
    AuthCheck(
        "error_body_shape",
        "error answers are JSON with error and error_description",
        check_error_body,
    ),
    AuthCheck(
        "non_ascii_username", "a non-ASCII username gets a 4xx, not a 5xx", check_non_ascii_username
    ),
)

# schemathesis' own checks, with what each means for a person reading the report.
SCHEMA_CHECKS: dict[str, str] = {
    "not_a_server_error": "no request, however odd, gets a 5xx",
    "status_code_conformance": "every status answered is one openapi.yaml lists",
    "content_type_conformance": "every Content-Type answered is one openapi.yaml lists",
    "response_headers_conformance": "required response headers are present and valid",
    "response_schema_conformance": "every answer body matches its schema in openapi.yaml",
    "negative_data_rejection": "requests that break the schema are refused with a 4xx",
    "positive_data_acceptance": "requests that fit the schema are not refused as malformed",
    "missing_required_header": "a request without a required header is refused",
    "unsupported_method": "a method openapi.yaml does not list gets 405",
    "allow_header_conformance": "405 answers carry an Allow header",
    "use_after_free": "a deleted resource is gone",
    "ensure_resource_availability": "a created resource can be read back",
    "ignored_auth": "operations that need a bearer token refuse requests without one",
    "object_level_authorization": "one identity cannot read another's objects",
}
AUTH_CHECK_NAMES = tuple(check.name for check in AUTH_CHECKS)
CHECK_NAMES = AUTH_CHECK_NAMES + tuple(SCHEMA_CHECKS)
SCHEMA = "schema"  # the name under which the schemathesis run is selected as a whole
