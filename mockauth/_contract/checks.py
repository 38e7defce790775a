"""The auth checks: the rules of an auth server that a schema cannot express, as a table
(``AUTH``) of functions over a ``Probe``, each with the operations it needs and uses.

Every check first gets positive evidence that it can tell anything (a login that works, a
``me`` that accepts the token); without it the check is skipped with the reason, never
passed. The bearer-token refusals are in ``refusals.py``.
"""

from __future__ import annotations

import time
from typing import Any

from .._values import is_number
from .client import Exchange
from .probe import Check, CheckTable, Failed, Login, Probe, Skipped, decoded
from .refusals import (
    check_alg_none,
    check_expired_token,
    check_malformed_token,
    check_missing_token,
    check_tampered_token,
)
from .results import CLOCK_SKEW, LIFETIME_TOLERANCE, NON_ASCII_USERNAME
from .tokens import jwt_parts

# Statuses that may mean the request was refused for its body's content type.
_CONTENT_TYPE_REFUSALS = (400, 415, 422)


def _has_token(exchange: Exchange) -> bool:
    token = exchange.field("access_token")
    return exchange.status == 200 and isinstance(token, str) and bool(token)


def check_login_succeeds(probe: Probe) -> None:
    exchange = probe.login()
    if _has_token(exchange):
        probe.keep(exchange)  # the run's shared login, when no check has made one yet
        return
    if exchange.status == 200:
        raise Failed("the login answer has no access_token string", exchange)
    sent_as = probe.body_kind(exchange)
    option = probe.options.option
    if exchange.status in _CONTENT_TYPE_REFUSALS:
        other = probe.login(as_json=probe.options.login_body != "json")
        if _has_token(other):
            takes = "json" if probe.options.login_body != "json" else "form"
            raise Failed(
                f"logging in as {sent_as} gave {exchange.answer()}, but as {probe.body_kind(other)} it "
                f"worked: the deployment takes {'JSON' if takes == 'json' else 'form'} logins only, where "
                f"openapi.yaml allows form and JSON; pass {option('content_type', takes)} to hold it to what it takes",
                exchange, other,
            )
    if exchange.status == 415:
        hint = (
            f"refused for its content type: it was sent as {sent_as}; openapi.yaml allows form and JSON, "
            f"and {option('content_type', 'form|json')} says which one the deployment takes"
        )
    elif exchange.status in (401, 403):
        hint = "are the username and password right?"
    else:
        hint = f"it was sent as {sent_as} to {probe.label('login')}"
    raise Failed(
        f"logging in with the given credentials gave {exchange.answer()}, not 200 with a token ({hint})", exchange
    )


def check_token_type(probe: Probe) -> None:
    login = probe.token()
    token_type = login.body.get("token_type")
    # RFC 6749 5.1: case-insensitive; openapi.yaml's pattern says the same.
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise Failed(f"token_type is {token_type!r}; it must be 'bearer' (in any case)", login.exchange)


def _no_store(exchange: Exchange) -> bool:
    value = exchange.header("Cache-Control") or ""
    return "no-store" in [item.strip().lower() for item in value.split(",")]


def check_no_store(probe: Probe) -> None:
    login = probe.token()
    if not _no_store(login.exchange):
        raise Failed(
            "the login answer lacks 'Cache-Control: no-store', so caches may keep the token (RFC 6749 5.1)",
            login.exchange,
        )
    if login.refresh_token is not None and probe.offers("refresh"):
        # A login of its own to spend: the shared one's refresh token stays unused.
        own = probe.fresh_token()
        refreshed = probe.refresh(own.refresh_token) if own.refresh_token else None
        if refreshed is not None and refreshed.status == 200 and not _no_store(refreshed):
            raise Failed("the refresh answer lacks 'Cache-Control: no-store', so caches may keep the token", refreshed)


def check_access_token_is_jwt(probe: Probe) -> None:
    login = probe.token()
    parts = jwt_parts(login.access_token)
    if parts is None:
        raise Failed(
            "the access_token is not a JWT (three base64url parts: JSON header, JSON claims, signature)",
            login.exchange,
        )
    header, _, signature = parts
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise Failed(f"the access token's header says alg {alg!r}: it must be signed", login.exchange)
    if not signature:
        raise Failed("the access token has an empty signature", login.exchange)


def check_token_lifetime(probe: Probe) -> None:
    login = probe.token()
    _, claims, _ = decoded(login)
    expires_in = login.body.get("expires_in")
    problems = [
        f"no numeric {name} claim in the access token ({effect})"
        for name, effect in (("exp", "it never expires"), ("iat", "it does not say when it was issued"))
        if not is_number(claims.get(name))
    ]
    if not is_number(expires_in):
        problems.append("no numeric expires_in in the login answer (clients cannot tell when to refresh)")
    if problems:
        raise Failed("; ".join(problems), login.exchange)
    lifetime = claims["exp"] - claims["iat"]
    if abs(lifetime - expires_in) > LIFETIME_TOLERANCE:
        raise Failed(
            f"exp - iat is {lifetime:g} s but expires_in says {expires_in:g} s; they must agree", login.exchange
        )
    if claims["exp"] < time.time() - CLOCK_SKEW:
        raise Failed("the access token is issued already expired (exp is in the past)", login.exchange)


def _refused_login(exchange: Exchange, what: str) -> None:
    if exchange.status is None:
        raise Failed(f"{what}: {exchange.answer()}", exchange)
    if exchange.status == 200 or exchange.field("access_token"):
        raise Failed(f"{what} was accepted: the target handed out a token", exchange)
    if exchange.status != 401:
        raise Failed(f"{what} got {exchange.answer()}; openapi.yaml says 401", exchange)


def check_wrong_password(probe: Probe) -> None:
    probe.token()  # the right password works, so a refusal below says something
    _refused_login(probe.wrong_password_answer(), "a wrong password")
    _refused_login(probe.unknown_user_answer(), "an unknown user")


def _aspect(exchange: Exchange, label: str) -> Any:
    return exchange.status if label == "status" else exchange.field(label)


def check_no_user_enumeration(probe: Probe) -> None:
    probe.token()
    wrong = probe.wrong_password_answer()
    unknown = probe.unknown_user_answer()
    for exchange in (wrong, unknown):
        if exchange.status is None or not 400 <= exchange.status < 500:
            raise Skipped(
                f"needs a wrong password and an unknown user refused, but one got {exchange.answer()} "
                "(see wrong_password_refused)"
            )
    for label in ("status", "error", "error_description"):
        one, other = _aspect(wrong, label), _aspect(unknown, label)
        if one != other:
            raise Failed(
                "a wrong password and an unknown user get different answers "
                f"({label} {one!r} vs {other!r}), which tells an attacker which usernames exist",
                wrong,
                unknown,
            )


def check_me_accepts_token(probe: Probe) -> None:
    login = probe.token()
    answer = probe.me(login.access_token)
    if answer.status != 200:
        raise Failed(f"{probe.label('me')} refused a token fresh from login: {answer.answer()}", answer)
    if not isinstance(answer.field("sub"), str):
        raise Failed(f"{probe.label('me')} answered without a 'sub' string", answer)


def _rotate(probe: Probe) -> tuple[Login, Exchange]:
    login = probe.fresh_token()
    if login.refresh_token is None:
        raise Skipped("the login answer has no refresh_token (it is optional in openapi.yaml)")
    return login, probe.refresh(login.refresh_token)


def check_refresh_rotates(probe: Probe) -> None:
    login, refreshed = _rotate(probe)
    if refreshed.status != 200:
        raise Failed(f"refreshing with a fresh refresh_token gave {refreshed.answer()}, not 200", refreshed)
    new_access, new_refresh = refreshed.field("access_token"), refreshed.field("refresh_token")
    if not isinstance(new_access, str) or not new_access:
        raise Failed("the refresh answer has no access_token", refreshed)
    if not isinstance(new_refresh, str) or not new_refresh:
        raise Failed("the refresh answer has no new refresh_token: refresh tokens must rotate", refreshed)
    if new_refresh == login.refresh_token:
        raise Failed("the refresh answer gave back the same refresh_token: it must rotate", refreshed)
    if probe.offers("me"):
        answer = probe.me(new_access)
        if answer.status != 200:
            raise Failed(
                f"{probe.label('me')} refused the access token from refresh: {answer.answer()}", refreshed, answer
            )


def check_refresh_reuse(probe: Probe) -> None:
    login, refreshed = _rotate(probe)
    if refreshed.status != 200:
        raise Skipped(f"refresh itself failed ({refreshed.answer()}; see refresh_rotates)")
    assert login.refresh_token is not None
    again = probe.refresh(login.refresh_token)
    if again.status is None or again.status < 400 or again.status >= 500 or again.field("access_token"):
        raise Failed(
            f"a refresh_token used once already was accepted again ({again.answer()}); "
            "a reused one must be refused with 401 (OAuth 2.0 Security BCP 4.14)",
            refreshed,
            again,
        )
    if again.status != 401:
        raise Failed(f"a reused refresh_token got {again.answer()}; openapi.yaml says 401", again)


def check_logout_revokes(probe: Probe) -> None:
    login = probe.working_token(fresh=True) if probe.offers("me") else probe.fresh_token()
    out = probe.logout(login.access_token)
    if out.status is None or not 200 <= out.status < 300:
        raise Failed(f"logout with a valid token gave {out.answer()}, not 204", out)
    if probe.offers("me"):
        probe.refused(probe.me(login.access_token), "the access token after logout")
    else:  # without me, logging out again is what shows whether the token still works
        probe.refused(probe.logout(login.access_token), "a second logout with the same access token")
    if login.refresh_token is not None and probe.offers("refresh"):
        again = probe.refresh(login.refresh_token)
        if again.status == 200:
            raise Failed(
                "the refresh_token issued with the access token still works after logout; logout must revoke it too",
                out,
                again,
            )


def check_error_body(probe: Probe) -> None:
    probe.token()
    answers = [
        probe.wrong_password_answer(),
        probe.send("login", fields=[("username", probe.options.username)]),
    ]
    if probe.offers("me"):
        answers += [probe.me(None), probe.me("not-a-jwt")]
    if probe.offers("refresh"):
        answers.append(probe.refresh("mockauth-contract-not-a-refresh-token"))
    for answer in answers:
        if answer.status is None or answer.status < 400:
            continue
        body = answer.json()
        if not isinstance(body, dict):
            raise Failed(f"an error answer ({answer.status}) is not a JSON object", answer)
        missing = [n for n in ("error", "error_description") if not isinstance(body.get(n), str) or not body.get(n)]
        if missing:
            raise Failed(f"an error answer ({answer.status}) has no {' or '.join(missing)} string", answer)
    if all(a.status is None or a.status < 400 for a in answers):
        raise Failed("none of the bad requests sent was refused", *answers)


def check_non_ascii_username(probe: Probe) -> None:
    probe.token()
    taken = probe.options.content_type
    ways = [as_json for as_json in (False, True) if taken == "both" or (taken == "json") == as_json]
    for as_json in ways:
        exchange = probe.login(username=NON_ASCII_USERNAME, password="not-the-password", as_json=as_json)
        if exchange.status is None or exchange.status >= 500:
            raise Failed(f"a non-ASCII username got {exchange.answer()}; it must get a 4xx", exchange)
        if exchange.status < 400:
            raise Failed(f"an unknown non-ASCII username was let in ({exchange.answer()})", exchange)


WITH_ME = ("login", "me")  # the checks of what `me` accepts and refuses

# Each row: name, what it holds the target to, the check; then the operations it needs
# (skipped without them) and those it uses only when offered.
AUTH = CheckTable("auth", "auth checks", (
    Check("login_succeeds", "the given credentials get 200 and an access_token", check_login_succeeds),
    Check("token_type_bearer", "token_type is 'bearer' (case-insensitive, RFC 6749 5.1)", check_token_type),
    Check("token_no_store", "token answers carry Cache-Control: no-store", check_no_store, uses=("refresh",)),
    Check("access_token_is_jwt", "the access token is a signed JWT (header alg is not 'none')",
          check_access_token_is_jwt),
    Check("token_lifetime", "the token has exp and iat, the answer expires_in, and they agree", check_token_lifetime),
    Check("wrong_password_refused", "a wrong password and an unknown user both get 401, no token",
          check_wrong_password),
    Check("no_user_enumeration", "a wrong password and an unknown user get the same answer",
          check_no_user_enumeration),
    Check("me_accepts_token", "me accepts a fresh access token and answers its sub", check_me_accepts_token,
          needs=WITH_ME),
    Check("me_refuses_missing_token", "me without a token: 401 + WWW-Authenticate", check_missing_token,
          needs=WITH_ME),
    Check("me_refuses_malformed_token", "me with a malformed token: 401 + WWW-Authenticate", check_malformed_token,
          needs=WITH_ME),
    Check("me_refuses_tampered_token", "me with a changed signature or claims: 401 + WWW-Authenticate",
          check_tampered_token, needs=WITH_ME),
    Check("me_refuses_alg_none", "me with an unsigned alg 'none' token: 401 + WWW-Authenticate", check_alg_none,
          needs=WITH_ME),
    Check("me_refuses_expired_token", "me with an expired token: 401 + WWW-Authenticate", check_expired_token,
          needs=WITH_ME),
    Check("refresh_rotates", "refresh gives a working access token and a new refresh_token", check_refresh_rotates,
          needs=("login", "refresh"), uses=("me",)),
    Check("refresh_reuse_refused", "a refresh_token used once is refused the second time", check_refresh_reuse,
          needs=("login", "refresh"), alone=True),
    Check("logout_revokes", "after logout the access token (and its refresh_token) is refused", check_logout_revokes,
          needs=("login", "logout"), uses=("me", "refresh"), alone=True),
    Check("error_body_shape", "error answers are JSON with error and error_description", check_error_body,
          uses=("me", "refresh")),
    Check("non_ascii_username", "a non-ASCII username gets a 4xx, not a 5xx", check_non_ascii_username),
))
