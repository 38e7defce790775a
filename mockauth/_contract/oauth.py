"""The OAuth checks: the token endpoint held to RFC 6749, RFC 7636 and the OAuth 2.0
Security BCP (RFC 9700), as a table (``OAUTH``) of functions over a ``Probe``. They run
when ``token`` is among the operations, for the client given (``client_id``, and
``client_secret`` for a confidential one); those that need an authorization code also need
``authorize``, and get their codes from the deployment's own login page (``browser``).

The client authenticates as the deployment takes it: HTTP Basic, which RFC 6749 2.3.1 says
every server supports, else the secret in the form; a public client names itself. Each
check first gets evidence that it can tell anything (a grant that works, a secret that
authenticates), and is skipped with the reason otherwise, never passed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from .browser import Browser, SignInFailed
from .client import Exchange
from .probe import Check, CheckTable, Failed, Login, Probe, Skipped, as_login

WRONG_SECRET = "mockauth-contract-wrong-client-secret"
_UNOFFERED = ("unsupported_grant_type", "unauthorized_client")


def _client(probe: Probe) -> tuple[str, str | None]:
    options = probe.options
    if not options.client_id:
        raise Skipped(
            f"needs an OAuth client: pass {options.needed('client_id')} (and {options.needed('client_secret')} "
            "for a confidential client)"
        )
    return options.client_id, options.client_secret


def _basic(client_id: str, secret: str) -> dict[str, str]:
    # RFC 6749 2.3.1: each part form-encoded before it is joined and base64-encoded.
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def _send(probe: Probe, fields: Sequence[tuple[str, str]], method: str, secret: str | None) -> Exchange:
    client_id, _ = _client(probe)
    if method == "basic" and secret is not None:
        return probe.send("token", fields=list(fields), as_json=False, headers=_basic(client_id, secret))
    extra = [("client_id", client_id)] + ([("client_secret", secret)] if secret is not None else [])
    return probe.send("token", fields=[*fields, *extra], as_json=False)


def _method(probe: Probe) -> str:
    """How the client authenticates here: 'basic', 'post' or 'none' (a public client)."""
    return probe.session.once("client authentication", lambda: _find_method(probe))  # type: ignore[no-any-return]


def _find_method(probe: Probe) -> str:
    _, secret = _client(probe)
    if secret is None:
        return "none"
    # A code that does not exist: the answer says whether the client authenticated, and
    # touches no user and no grant.
    bogus = [("grant_type", "authorization_code"), ("code", "mockauth-contract-no-such-code"),
             ("redirect_uri", probe.options.redirect_uri)]
    for method in ("basic", "post"):
        answer = _send(probe, bogus, method, secret)
        if answer.status is not None and answer.field("error") != "invalid_client" and answer.status != 401:
            return method
    raise Skipped(
        f"the client secret given is refused as HTTP Basic and in the form ({answer.answer()}): are "
        f"{probe.options.option('client_id', probe.options.client_id or '')} and its secret right?"
    )


def token_request(probe: Probe, *fields: tuple[str, str], secret: str | None = None) -> Exchange:
    """A request to the token endpoint, the client authenticated as the deployment takes it."""
    method = _method(probe)
    _, given = _client(probe)
    return _send(probe, fields, method, secret if secret is not None else given)


def _password_grant(probe: Probe, password: str | None = None) -> Exchange:
    options = probe.options
    scope = [("scope", options.scope)] if options.scope else []
    return token_request(
        probe, ("grant_type", "password"), ("username", options.username),
        ("password", options.password if password is None else password), *scope,
    )


def _not_offered(answer: Exchange) -> None:
    if answer.status == 400 and answer.field("error") in _UNOFFERED:
        raise Skipped(
            f"the password grant is not offered to this client ({answer.answer()}); RFC 9700 2.4 says it must "
            "not be used, so that is no fault"
        )


def _granted(probe: Probe, *, fresh: bool = False) -> Login:
    """Tokens from the password grant (the run's shared answer unless `fresh`: one to
    spend), or skip when the deployment does not offer it."""
    answer = _password_grant(probe) if fresh else _shared_grant(probe)
    login = as_login(answer)
    if login is None:
        _not_offered(answer)
        raise Skipped(f"needs the password grant to work, but it gave {answer.answer()} (see oauth_password_grant)")
    return login


def _shared_grant(probe: Probe) -> Exchange:
    return probe.session.once("oauth password grant", lambda: _password_grant(probe))  # type: ignore[no-any-return]


def _spendable(probe: Probe) -> Login:
    """Tokens of its own for a check to spend: from the password grant, else from a code."""
    try:
        return _granted(probe, fresh=True)
    except Skipped:
        if not probe.offers("authorize"):
            raise
    _, _, answer = _fresh_exchange(probe)
    login = as_login(answer)
    assert login is not None
    return login


def _refused(answer: Exchange, what: str, errors: Sequence[str], rule: str, *also: Exchange) -> None:
    """A token request refused with 400 and one of `errors` (RFC 6749 5.2), no token."""
    if answer.status is None:
        raise Failed(f"{what}: {answer.answer()}", *also, answer)
    if answer.field("access_token"):
        raise Failed(f"{what} was accepted ({answer.answer()}): {rule}", *also, answer)
    if answer.status != 400 or answer.field("error") not in errors:
        raise Failed(f"{what} got {answer.answer()}; {rule} with 400 {' or '.join(errors)} (RFC 6749 5.2)",
                     *also, answer)


# -- checks -------------------------------------------------------------------------


def check_password_grant(probe: Probe) -> None:
    answer = _shared_grant(probe)
    _not_offered(answer)
    if as_login(answer) is None:
        hint = " (are the username and password right?)" if answer.field("error") == "invalid_grant" else ""
        raise Failed(f"the password grant gave {answer.answer()}, not 200 with an access_token{hint}", answer)
    token_type = answer.field("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise Failed(f"token_type is {token_type!r}; it must be 'Bearer' (any case, RFC 6749 5.1, 7.1)", answer)
    cache = [part.strip().lower() for part in (answer.header("Cache-Control") or "").split(",")]
    if "no-store" not in cache:
        raise Failed("the token answer lacks 'Cache-Control: no-store' (RFC 6749 5.1 says it must carry it)", answer)


def check_refresh_rotates(probe: Probe) -> None:
    login = _spendable(probe)
    if login.refresh_token is None:
        raise Skipped("no refresh_token was issued (RFC 6749 5.1 makes it optional)")
    old = login.refresh_token
    refreshed = token_request(probe, ("grant_type", "refresh_token"), ("refresh_token", old))
    new = as_login(refreshed)
    if new is None:
        raise Failed(f"the refresh_token grant gave {refreshed.answer()}, not 200 with an access_token", refreshed)
    if new.refresh_token is None or new.refresh_token == old:
        public = probe.options.client_secret is None
        rule = ("RFC 9700 4.14.2 asks that a public client's refresh tokens rotate" if public else
                "openapi.yaml says refresh tokens are single use; for a confidential client RFC 9700 4.14.2 leaves "
                "rotation to the server, so this is openapi.yaml's rule, not the RFCs'")
        got = "the same refresh_token" if new.refresh_token == old else "no new refresh_token"
        raise Failed(f"the refresh answer gave back {got}: it does not rotate ({rule})", refreshed)
    again = token_request(probe, ("grant_type", "refresh_token"), ("refresh_token", old))
    _refused(again, "the refresh_token it replaced, sent again,", ("invalid_grant",),
             "a rotated refresh token must be refused (RFC 9700 4.14.2)", refreshed)


def check_wrong_password(probe: Probe) -> None:
    _granted(probe)  # the right password works here, so a refusal below says something
    _refused(_password_grant(probe, probe.wrong_password()), "a wrong password in the password grant",
             ("invalid_grant",), "a wrong resource owner password must be refused")


def check_bad_secret(probe: Probe) -> None:
    _, secret = _client(probe)
    if secret is None:
        raise Skipped(
            "the client is public (no secret): there is no secret to get wrong; pass "
            f"{probe.options.needed('client_secret')} for a confidential client"
        )
    method = _method(probe)  # the right secret authenticates, so a refusal below says something
    wrong = WRONG_SECRET if secret != WRONG_SECRET else WRONG_SECRET + "-2"
    bogus = (("grant_type", "authorization_code"), ("code", "mockauth-contract-no-such-code"),
             ("redirect_uri", probe.options.redirect_uri))
    answer = token_request(probe, *bogus, secret=wrong)
    if answer.field("access_token") or answer.status is None or answer.field("error") != "invalid_client":
        raise Failed(f"a wrong client secret ({method}) got {answer.answer()}, not invalid_client "
                     "(RFC 6749 5.2)", answer)
    challenge = (answer.header("WWW-Authenticate") or "").strip().lower()
    if answer.status != 401 and method == "basic":
        raise Failed(f"a wrong secret sent as HTTP Basic got {answer.answer()}; RFC 6749 5.2 says 401", answer)
    if answer.status == 401 and not challenge:
        raise Failed("a wrong client secret got 401 without WWW-Authenticate (RFC 6749 5.2, RFC 9110 11.6.1)",
                     answer)
    if method == "basic" and not challenge.startswith("basic"):
        raise Failed(f"a wrong secret sent as HTTP Basic got 'WWW-Authenticate: {answer.header('WWW-Authenticate')}';"
                     " RFC 6749 5.2 says it names the scheme the client used (Basic)", answer)


# -- authorization codes --------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """A code_verifier and its S256 code_challenge (RFC 7636 4.1, 4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_code(probe: Probe) -> tuple[str, str]:
    """A fresh code (and its verifier) from signing in at the deployment's login page."""
    options = probe.options
    client_id, _ = _client(probe)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": options.redirect_uri,
              "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
    if options.scope:
        params["scope"] = options.scope
    browser = probe.session.once(
        "browser", lambda: Browser(probe.client, options.username, options.password)
    )
    url = probe.client.base_url + probe.operations.path("authorize") + "?" + urlencode(params)
    try:
        back = browser.authorize(url, options.redirect_uri)
    except SignInFailed as why:
        raise Skipped(f"no authorization code: {why}") from None
    if back.get("error"):
        raise Skipped(
            f"the authorization request was refused ({back.get('error')}: {back.get('error_description') or ''}): "
            f"is {options.option('redirect_uri', options.redirect_uri)} registered for the client?"
        )
    if back.get("state") != state:
        raise Failed(f"the redirect back carried state {back.get('state')!r}, not the state sent (RFC 6749 4.1.2)",
                     back.exchange)
    code = back.get("code")
    if not code:
        raise Failed("the redirect back to the client has no code (RFC 6749 4.1.2)", back.exchange)
    return code, verifier


def _exchange(probe: Probe, code: str, verifier: str | None) -> Exchange:
    fields = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", probe.options.redirect_uri)]
    if verifier is not None:
        fields.append(("code_verifier", verifier))
    return token_request(probe, *fields)


def _fresh_exchange(probe: Probe) -> tuple[str, str, Exchange]:
    """A fresh code exchanged with its right verifier: 200 with tokens, or the check fails."""
    code, verifier = authorization_code(probe)
    first = _exchange(probe, code, verifier)
    if as_login(first) is None:
        raise Failed(f"exchanging a fresh code with its code_verifier gave {first.answer()}, not 200 with an "
                     "access_token", first)
    probe.session.memo["a code worked"] = True
    return code, verifier, first


def check_code_used_once(probe: Probe) -> None:
    code, verifier, first = _fresh_exchange(probe)
    _refused(_exchange(probe, code, verifier), "the same code, exchanged a second time,", ("invalid_grant",),
             "a code works once (RFC 6749 4.1.2: the server must deny a second use)", first)


def check_pkce(probe: Probe) -> None:
    if not probe.session.memo.get("a code worked"):
        _fresh_exchange(probe)  # the right verifier works, so a refusal below says something
    code, _ = authorization_code(probe)
    wrong = pkce_pair()[0]
    _refused(_exchange(probe, code, wrong), "a code exchanged with a wrong code_verifier", ("invalid_grant",),
             "the verifier must match the code_challenge (RFC 7636 4.6)")
    code, _ = authorization_code(probe)
    _refused(_exchange(probe, code, None), "a code issued for a code_challenge, exchanged without a code_verifier",
             ("invalid_grant", "invalid_request"), "the server must verify it (RFC 7636 4.6)")


TOKEN = ("token",)
CODES = ("authorize", "token")

OAUTH = CheckTable("oauth", "OAuth checks", (
    Check("oauth_password_grant", "the password grant gives 200, a Bearer access_token, Cache-Control: no-store",
          check_password_grant, needs=TOKEN),
    Check("oauth_refresh_rotates", "the refresh_token grant gives tokens and a new refresh_token; the old one "
          "is then refused (400 invalid_grant)", check_refresh_rotates, needs=TOKEN, uses=("authorize",), alone=True),
    Check("oauth_wrong_password_invalid_grant", "a wrong password in the password grant gets 400 invalid_grant",
          check_wrong_password, needs=TOKEN),
    Check("oauth_bad_secret_invalid_client", "a wrong client secret gets 401 invalid_client with WWW-Authenticate",
          check_bad_secret, needs=TOKEN),
    Check("oauth_code_used_once", "an authorization code works once; a second use gets 400 invalid_grant",
          check_code_used_once, needs=CODES, alone=True),
    Check("oauth_pkce_verified", "a code issued for a PKCE code_challenge is refused with a wrong or no "
          "code_verifier", check_pkce, needs=CODES, alone=True),
))
