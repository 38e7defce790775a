"""The contract runner: hold any deployment of the auth API to ``openapi.yaml``.

Two kinds of checks, one report:

* **auth checks** (below, in ``AUTH_CHECKS``): the rules of an auth server that a schema
  cannot express - wrong passwords refused alike for known and unknown users, JWTs that
  expire, tampered or ``alg: none`` tokens refused, refresh tokens that rotate, logout
  that revokes. Each logs in on its own, so any one can run alone. They need only the
  standard library.
* **schema checks**: schemathesis (the ``contract`` extra) with all its checks and the
  examples, coverage, fuzzing and stateful phases, bearer auth obtained by logging in
  with the same credentials and renewed on 401; the mock-only operations left out.

>>> report = Contract("http://127.0.0.1:8765", username="u", password="p").run()  # doctest: +SKIP
>>> print(report.render()); report.exit_code                                       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ._errors import MockAuthError
from ._http import is_number
from ._spec import load_spec

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
PASSWORD_VARIABLE = "MOCKAUTH_CONTRACT_PASSWORD"
USERNAME_VARIABLE = "MOCKAUTH_CONTRACT_USERNAME"
URL_VARIABLE = "MOCKAUTH_CONTRACT_URL"
DEFAULT_TIMEOUT = 10.0
DEFAULT_EXPIRY_WAIT = 10.0
# How far exp - iat may stray from expires_in (whole-second rounding, a slow server).
LIFETIME_TOLERANCE = 5
# How far the target's clock may be behind ours before an issued token counts as already expired.
CLOCK_SKEW = 60
NON_ASCII_USERNAME = "jürgen.größe.用户@example.com"
WRONG_PASSWORD = "mockauth-contract-wrong-password"
SCHEMA_PHASES = ("examples", "coverage", "fuzzing", "stateful")

Progress = Callable[[str], None]


class ContractError(MockAuthError):
    """The contract cannot run: a bad argument, an unreadable spec, an unreachable target."""


# -- what was sent and what came back ---------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One request an auth check sent and the answer (``status`` None: no answer)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    form: tuple[tuple[str, str], ...] | None = None
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""
    error: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.response_headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    def field(self, name: str) -> Any:
        body = self.json()
        return body.get(name) if isinstance(body, dict) else None

    def answer(self) -> str:
        """The answer in a few words, for reasons: 'HTTP 401 invalid_credentials'."""
        if self.status is None:
            return f"no answer ({self.error})"
        error = self.field("error")
        return f"HTTP {self.status}" + (f" {error}" if isinstance(error, str) else "")

    def curl(self, secret: str | None = None) -> str:
        """A shell line that sends the same request; the real password is read from
        $MOCKAUTH_CONTRACT_PASSWORD rather than printed."""
        parts = ["curl -i -X", self.method, _quote(self.url)]
        for key, value in self.request_headers:
            if key.lower() in (
                "user-agent",
                "content-length",
                "host",
                "accept-encoding",
                "connection",
            ):
                continue
            if self.form is not None and key.lower() == "content-type":
                continue  # --data-urlencode sets it
            parts += ["-H", _quote(f"{key}: {value}")]
        if self.form is not None:
            for key, value in self.form:
                if secret and value == secret:
                    parts += ["--data-urlencode", f'"{key}=${PASSWORD_VARIABLE}"']
                else:
                    parts += ["--data-urlencode", _quote(f"{key}={value}")]
        elif self.body:
            parts += ["--data-binary", _quote_secret(self.body.decode("utf-8", "replace"), secret)]
        return " ".join(parts)

    def describe(self, secret: str | None = None) -> str:
        """What was sent and what came back, as a person reads it."""
        sent = [f"  sent:     {self.method} {self.url}"]
        for key, value in self.request_headers:
            if key.lower() in ("authorization", "content-type") or not key.lower().startswith(
                ("user-", "accept", "host")
            ):
                sent.append(f"            {key}: {value}")
        if self.form is not None:
            shown = [
                (k, f"${PASSWORD_VARIABLE}" if secret and v == secret else v) for k, v in self.form
            ]
            sent.append("            " + urlencode(shown, safe="$@"))
        elif self.body:
            sent.append("            " + _clip(_hide(self.body.decode("utf-8", "replace"), secret)))
        if self.status is None:
            got = [f"  got:      no answer: {self.error}"]
        else:
            got = [f"  got:      HTTP {self.status}"]
            for key, value in self.response_headers:
                if key.lower() in ("content-type", "cache-control", "www-authenticate", "pragma"):
                    got.append(f"            {key}: {value}")
            if self.response_body:
                got.append("            " + _clip(self.response_body.decode("utf-8", "replace")))
        return "\n".join([*sent, *got, f"  curl:     {self.curl(secret)}"])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _quote_secret(text: str, secret: str | None) -> str:
    if not secret or secret not in text:
        return _quote(text)
    return f'"${PASSWORD_VARIABLE}"'.join(_quote(part) for part in text.split(secret))


def _hide(text: str, secret: str | None) -> str:
    return text.replace(secret, f"${PASSWORD_VARIABLE}") if secret else text


def _clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class _Client:
    """A bare HTTP client (standard library): the auth checks need exact control over
    headers and bodies, and must run without the ``contract`` extra."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout

    def send(
        self,
        method: str,
        path: str,
        *,
        form: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        sent = {
            "Accept": "application/json",
            "User-Agent": "mockauth-contract",
            **self.headers,
            **(headers or {}),
        }
        body = b""
        if form is not None:
            body = urlencode(list(form)).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        url = self.base_url + path
        record = Exchange(
            method, url, tuple(sent.items()), body, tuple(form) if form is not None else None
        )
        connection: http.client.HTTPConnection
        if self.https:
            connection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, self.prefix + path, body=body or None, headers=sent)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            return _replace(record, error=_network_error(error))
        finally:
            connection.close()
        return _replace(
            record,
            status=response.status,
            response_headers=tuple(response.getheaders()),
            response_body=data,
        )


def _replace(record: Exchange, **changes: Any) -> Exchange:
    import dataclasses

    return dataclasses.replace(record, **changes)


def _network_error(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


# -- results and the report ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One row of the report: a check, its verdict, and why (always, unless it passed)."""

    name: str
    kind: str  # "auth" or "schema"
    description: str
    status: str  # passed, failed or skipped
    reason: str = ""
    evidence: tuple[str, ...] = ()  # for a failure: what was sent, what came back, a curl line


@dataclass
class ContractReport:
    """The outcome of a contract run; ``exit_code`` is what ``mockauth contract`` exits with."""

    target: str
    results: list[CheckResult] = field(default_factory=list)
    duration: float = 0.0

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def result(self, name: str) -> CheckResult:
        for item in self.results:
            if item.name == name:
                return item
        raise KeyError(name)

    def table(self) -> str:
        width = max([len(r.name) for r in self.results] + [5])
        lines = []
        for kind, title in (("auth", "auth checks"), ("schema", "schema checks (schemathesis)")):
            rows = [r for r in self.results if r.kind == kind]
            if not rows:
                continue
            lines.append(f"{title}:")
            for row in rows:
                text = row.description if row.status == PASSED else row.reason
                lines.append(f"  {row.name:<{width}}  {row.status.upper():<7}  {text}")
        return "\n".join(lines)

    def details(self) -> str:
        blocks = []
        for row in self.failed:
            head = f"FAILED {row.name}: {row.reason}\n  check: {row.description}"
            blocks.append("\n".join([head, *row.evidence]))
        return "\n\n".join(blocks)

    def summary(self) -> str:
        counts = {
            status: sum(r.status == status for r in self.results)
            for status in (PASSED, FAILED, SKIPPED)
        }
        verdict = "conforms" if self.ok else "does NOT conform"
        return (
            f"{self.target} {verdict}: {counts[PASSED]} passed, {counts[FAILED]} failed, "
            f"{counts[SKIPPED]} skipped in {self.duration:.1f} s"
        )

    def render(self) -> str:
        parts = [self.table()]
        if self.failed:
            parts.append(self.details())
            if any(f"${PASSWORD_VARIABLE}" in line for r in self.failed for line in r.evidence):
                parts.append(
                    f"(curl lines read the password from ${PASSWORD_VARIABLE}: export it first)"
                )
        parts.append(self.summary())
        return "\n\n".join(parts)

    def junit_xml(self) -> str:
        suite = ET.Element(
            "testsuite",
            name="mockauth contract",
            tests=str(len(self.results)),
            failures=str(len(self.failed)),
            skipped=str(sum(r.status == SKIPPED for r in self.results)),
            errors="0",
            time=f"{self.duration:.3f}",
        )
        suite.set("hostname", self.target)
        for row in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"contract.{row.kind}", name=row.name)
            if row.status == FAILED:
                failure = ET.SubElement(case, "failure", message=row.reason)
                failure.text = "\n".join([row.description, *row.evidence])
            elif row.status == SKIPPED:
                ET.SubElement(case, "skipped", message=row.reason)
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n"
        )


# -- the auth checks -----------------------------------------------------------------------


class _Failed(Exception):
    def __init__(self, reason: str, *exchanges: Exchange) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exchanges = exchanges


class _Skipped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Login:
    exchange: Exchange
    access_token: str
    refresh_token: str | None
    body: Mapping[str, Any]


class _Probe:
    """What every auth check may do against the target."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.client = _Client(contract.url, contract.headers, contract.timeout)

    def login(self, username: str | None = None, password: str | None = None) -> Exchange:
        c = self.contract
        fields = [
            ("username", c.username if username is None else username),
            ("password", c.password if password is None else password),
        ]
        return self.client.send("POST", "/auth/login", form=fields)

    def wrong_password(self) -> str:
        # Not derived from the real one, so reports can show it without giving that away.
        password = self.contract.password
        return WRONG_PASSWORD if password != WRONG_PASSWORD else WRONG_PASSWORD + "-2"

    def token(self) -> _Login:
        """A fresh login with the given credentials, or skip: the check needs one."""
        exchange = self.login()
        token = exchange.field("access_token")
        if exchange.status != 200 or not isinstance(token, str) or not token:
            raise _Skipped(
                "needs a token, but logging in with the given credentials gave "
                f"{exchange.answer()} (see login_succeeds)"
            )
        refresh = exchange.field("refresh_token")
        return _Login(
            exchange,
            token,
            refresh if isinstance(refresh, str) and refresh else None,
            exchange.json(),
        )

    def me(self, token: str | None, *, authorization: str | None = None) -> Exchange:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.send("GET", "/auth/me", headers=headers)

    def working_token(self) -> _Login:
        """A token /auth/me accepts; without one, refusals prove nothing."""
        login = self.token()
        answer = self.me(login.access_token)
        if answer.status != 200:
            raise _Skipped(
                f"needs /auth/me to accept a fresh token, but it gave {answer.answer()} "
                "(see me_accepts_token)"
            )
        return login

    def refresh(self, refresh_token: str) -> Exchange:
        return self.client.send("POST", "/auth/refresh", form=[("refresh_token", refresh_token)])

    def logout(self, token: str) -> Exchange:
        return self.client.send(
            "POST", "/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )

    def refused(self, exchange: Exchange, what: str, *, bearer: bool = True) -> None:
        """A bearer refusal: 401 with WWW-Authenticate (RFC 6750 section 3)."""
        if exchange.status is None:
            raise _Failed(f"{what}: {exchange.answer()}", exchange)
        if 200 <= exchange.status < 300:
            raise _Failed(
                f"{what} was accepted ({exchange.answer()}); it must be refused with 401", exchange
            )
        if exchange.status != 401:
            raise _Failed(
                f"{what} got {exchange.answer()}; a refused bearer token must get 401", exchange
            )
        challenge = exchange.header("WWW-Authenticate")
        if bearer and (not challenge or not challenge.strip().lower().startswith("bearer")):
            raise _Failed(
                f"{what} got 401 without a 'WWW-Authenticate: Bearer ...' header "
                "(RFC 6750 section 3)",
                exchange,
            )


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """(header, claims, signature) of a compact JWS, or None if it is not one."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    try:
        header = json.loads(_b64decode(pieces[0]))
        claims = json.loads(_b64decode(pieces[1]))
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, pieces[2]


def _encode_json(value: Mapping[str, Any]) -> str:
    return _b64encode(json.dumps(value, separators=(",", ":")).encode())


def _decoded(login: _Login) -> tuple[dict[str, Any], dict[str, Any], str]:
    parts = _jwt_parts(login.access_token)
    if parts is None:
        raise _Skipped(
            "the access token is not a JWT, so it cannot be altered (see access_token_is_jwt)"
        )
    return parts


def check_login_succeeds(probe: _Probe) -> None:
    exchange = probe.login()
    if exchange.status != 200:
        raise _Failed(
            f"logging in with the given credentials gave {exchange.answer()}, not 200 with a token "
            "(are --username and --password right?)",
            exchange,
        )
    if not isinstance(exchange.field("access_token"), str) or not exchange.field("access_token"):
        raise _Failed("the login answer has no access_token string", exchange)


def check_token_type(probe: _Probe) -> None:
    login = probe.token()
    token_type = login.body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise _Failed(f"token_type is {token_type!r}; it must be 'bearer'", login.exchange)


def _no_store(exchange: Exchange) -> bool:
    value = exchange.header("Cache-Control") or ""
    return "no-store" in [item.strip().lower() for item in value.split(",")]


def check_no_store(probe: _Probe) -> None:
    login = probe.token()
    if not _no_store(login.exchange):
        raise _Failed(
            "the login answer lacks 'Cache-Control: no-store', so caches may keep the token "
            "(RFC 6749 5.1)",
            login.exchange,
        )
    if login.refresh_token is not None:
        refreshed = probe.refresh(login.refresh_token)
        if refreshed.status == 200 and not _no_store(refreshed):
            raise _Failed(
                "the refresh answer lacks 'Cache-Control: no-store', so caches may keep the token",
                refreshed,
            )


def check_access_token_is_jwt(probe: _Probe) -> None:
    login = probe.token()
    parts = _jwt_parts(login.access_token)
    if parts is None:
        raise _Failed(
            "the access_token is not a JWT (three base64url parts: JSON header, JSON claims, "
            "signature)",
            login.exchange,
        )
    header, _, signature = parts
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise _Failed(
            f"the access token's header says alg {alg!r}: it must be signed", login.exchange
        )
    if not signature:
        raise _Failed("the access token has an empty signature", login.exchange)


def check_token_lifetime(probe: _Probe) -> None:
    login = probe.token()
    _, claims, _ = _decoded(login)
    missing = [name for name in ("exp", "iat") if not is_number(claims.get(name))]
    if missing:
        raise _Failed(
            f"the access token has no numeric {' or '.join(missing)} claim, so it "
            + ("never expires" if "exp" in missing else "does not say when it was issued"),
            login.exchange,
        )
    expires_in = login.body.get("expires_in")
    if not is_number(expires_in):
        raise _Failed("the login answer has no numeric expires_in", login.exchange)
    lifetime = claims["exp"] - claims["iat"]
    if abs(lifetime - expires_in) > LIFETIME_TOLERANCE:
        raise _Failed(
            f"exp - iat is {lifetime:g} s but expires_in says {expires_in:g} s; they must agree",
            login.exchange,
        )
    if claims["exp"] < time.time() - CLOCK_SKEW:
        raise _Failed(
            "the access token is issued already expired (exp is in the past)", login.exchange
        )


def _unknown_user() -> str:
    return f"mockauth-contract-no-such-user-{secrets.token_hex(4)}@example.invalid"


def _refused_login(exchange: Exchange, what: str) -> None:
    if exchange.status is None:
        raise _Failed(f"{what}: {exchange.answer()}", exchange)
    if exchange.status == 200 or exchange.field("access_token"):
        raise _Failed(f"{what} was accepted: the target handed out a token", exchange)
    if exchange.status != 401:
        raise _Failed(f"{what} got {exchange.answer()}; openapi.yaml says 401", exchange)


def check_wrong_password(probe: _Probe) -> None:
    _refused_login(probe.login(password=probe.wrong_password()), "a wrong password")
    _refused_login(probe.login(username=_unknown_user()), "an unknown user")


def _aspect(exchange: Exchange, label: str) -> Any:
    return exchange.status if label == "status" else exchange.field(label)


def check_no_user_enumeration(probe: _Probe) -> None:
    wrong = probe.login(password=probe.wrong_password())
    unknown = probe.login(username=_unknown_user())
    if wrong.status == 200 or unknown.status == 200:
        raise _Skipped("a wrong password or unknown user was let in (see wrong_password_refused)")
    for label in ("status", "error", "error_description"):
        one, other = _aspect(wrong, label), _aspect(unknown, label)
        if one != other:
            raise _Failed(
                "a wrong password and an unknown user get different answers "
                f"({label} {one!r} vs {other!r}), which tells an attacker "
                "which usernames exist",
                wrong,
                unknown,
            )


def check_me_accepts_token(probe: _Probe) -> None:
    login = probe.token()
    answer = probe.me(login.access_token)
    if answer.status != 200:
        raise _Failed(f"/auth/me refused a token fresh from login: {answer.answer()}", answer)
    if not isinstance(answer.field("sub"), str):
        raise _Failed("/auth/me answered without a 'sub' string", answer)


def check_missing_token(probe: _Probe) -> None:
    probe.refused(probe.me(None), "a request with no Authorization header")


def check_malformed_token(probe: _Probe) -> None:
    probe.refused(probe.me("not-a-jwt"), "the bearer token 'not-a-jwt'")
    probe.refused(
        probe.me(None, authorization="Basic dXNlcjpwYXNz"),
        "an Authorization header that is not Bearer",
    )


def check_tampered_token(probe: _Probe) -> None:
    login = probe.working_token()
    _, claims, signature = _decoded(login)
    head, body, _ = login.access_token.split(".")
    raw = bytearray(_b64decode(signature) or b"\0")
    raw[0] ^= 0xFF  # a changed byte, not a changed last character: those bits may be unused
    probe.refused(
        probe.me(f"{head}.{body}.{_b64encode(bytes(raw))}"), "a token with a changed signature"
    )
    longer = dict(
        claims, exp=(claims["exp"] if is_number(claims.get("exp")) else int(time.time())) + 86400
    )
    probe.refused(
        probe.me(f"{head}.{_encode_json(longer)}.{signature}"),
        "a token whose claims were changed (exp pushed a day on) under the original signature",
    )


def check_alg_none(probe: _Probe) -> None:
    login = probe.working_token()
    header, claims, _ = _decoded(login)
    for alg in ("none", "None"):
        forged = f"{_encode_json(dict(header, alg=alg))}.{_encode_json(claims)}."
        probe.refused(probe.me(forged), f"an unsigned token (header alg '{alg}')")


def check_expired_token(probe: _Probe) -> None:
    contract = probe.contract
    if contract.expired_token:
        probe.working_token()
        probe.refused(probe.me(contract.expired_token), "the expired token given (--expired-token)")
        return
    login = probe.working_token()
    issued = time.monotonic()
    expires_in = login.body.get("expires_in")
    if not is_number(expires_in):
        raise _Skipped(
            "the login answer has no expires_in, so there is no telling when a token "
            "expires; pass --expired-token TOKEN"
        )
    if expires_in > contract.expiry_wait:
        raise _Skipped(
            f"tokens live {expires_in:g} s, longer than the {contract.expiry_wait:g} s "
            "this run waits; "
            "pass --expired-token TOKEN (one the target signed that has expired) to test it"
        )
    # Our own clock, from the login answer: the target's clock may be off from ours.
    time.sleep(max(0.0, issued + expires_in + 1.5 - time.monotonic()))
    probe.refused(
        probe.me(login.access_token), f"a token past its lifetime ({expires_in:g} s, waited out)"
    )


def _rotate(probe: _Probe) -> tuple[_Login, Exchange]:
    login = probe.token()
    if login.refresh_token is None:
        raise _Skipped("the login answer has no refresh_token (it is optional in openapi.yaml)")
    return login, probe.refresh(login.refresh_token)


def check_refresh_rotates(probe: _Probe) -> None:
    login, refreshed = _rotate(probe)
    if refreshed.status != 200:
        raise _Failed(
            f"refreshing with a fresh refresh_token gave {refreshed.answer()}, not 200", refreshed
        )
    new_access, new_refresh = refreshed.field("access_token"), refreshed.field("refresh_token")
    if not isinstance(new_access, str) or not new_access:
        raise _Failed("the refresh answer has no access_token", refreshed)
    if not isinstance(new_refresh, str) or not new_refresh:
        raise _Failed(
            "the refresh answer has no new refresh_token: refresh tokens must rotate", refreshed
        )
    if new_refresh == login.refresh_token:
        raise _Failed(
            "the refresh answer gave back the same refresh_token: it must rotate", refreshed
        )
    answer = probe.me(new_access)
    if answer.status != 200:
        raise _Failed(
            f"/auth/me refused the access token from refresh: {answer.answer()}", refreshed, answer
        )


def check_refresh_reuse(probe: _Probe) -> None:
    login, refreshed = _rotate(probe)
    if refreshed.status != 200:
        raise _Skipped(f"refresh itself failed ({refreshed.answer()}; see refresh_rotates)")
    assert login.refresh_token is not None
    again = probe.refresh(login.refresh_token)
    if (
        again.status is None
        or again.status < 400
        or again.status >= 500
        or again.field("access_token")
    ):
        raise _Failed(
            f"a refresh_token used once already was accepted again ({again.answer()}); "
            "a reused one must be refused with 401 (OAuth 2.0 Security BCP 4.14)",
            refreshed,
            again,
        )
    if again.status != 401:
        raise _Failed(f"a reused refresh_token got {again.answer()}; openapi.yaml says 401", again)


def check_logout_revokes(probe: _Probe) -> None:
    login = probe.working_token()
    out = probe.logout(login.access_token)
    if out.status is None or not 200 <= out.status < 300:
        raise _Failed(f"logout with a valid token gave {out.answer()}, not 204", out)
    probe.refused(probe.me(login.access_token), "the access token after logout")
    if login.refresh_token is not None:
        again = probe.refresh(login.refresh_token)
        if again.status == 200:
            raise _Failed(
                "the refresh_token issued with the access token still works after logout; "
                "logout must revoke it too",
                out,
                again,
            )


def check_error_body(probe: _Probe) -> None:
    answers = [
        probe.login(password=probe.wrong_password()),
        probe.client.send("POST", "/auth/login", form=[("username", probe.contract.username)]),
        probe.me(None),
        probe.me("not-a-jwt"),
        probe.refresh("mockauth-contract-not-a-refresh-token"),
    ]
    for answer in answers:
        if answer.status is None or answer.status < 400:
            continue
        body = answer.json()
        if not isinstance(body, dict):
            raise _Failed(f"an error answer ({answer.status}) is not a JSON object", answer)
        missing = [
            n
            for n in ("error", "error_description")
            if not isinstance(body.get(n), str) or not body.get(n)
        ]
        if missing:
            raise _Failed(
                f"an error answer ({answer.status}) has no {' or '.join(missing)} string", answer
            )
    if all(a.status is None or a.status < 400 for a in answers):
        raise _Failed("none of the bad requests sent was refused", *answers)


def check_non_ascii_username(probe: _Probe) -> None:
    for exchange in (
        probe.login(username=NON_ASCII_USERNAME, password="not-the-password"),
        probe.client.send(
            "POST",
            "/auth/login",
            json_body={"username": NON_ASCII_USERNAME, "password": "not-the-password"},
        ),
    ):
        if exchange.status is None or exchange.status >= 500:
            raise _Failed(
                f"a non-ASCII username got {exchange.answer()}; it must get a 4xx", exchange
            )
        if exchange.status == 200 or exchange.status < 400:
            raise _Failed(
                f"an unknown non-ASCII username was let in ({exchange.answer()})", exchange
            )


@dataclass(frozen=True)
class AuthCheck:
    name: str
    description: str
    run: Callable[[_Probe], None]


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


# -- the runner ------------------------------------------------------------------------


class Contract:
    """A contract run against the auth API at `url`, logging in as `username`.

    >>> contract = Contract("https://auth.example", username="ci", password=pw)  # doctest: +SKIP
    >>> report = contract.run(progress=print)  # doctest: +SKIP
    >>> report.ok, report.result("logout_revokes").status  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        username: str,
        password: str,
        spec: str | Path | None = None,
        max_examples: int | None = None,
        seed: int | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        exclude_checks: Iterable[str] = (),
        expired_token: str | None = None,
        expiry_wait: float = DEFAULT_EXPIRY_WAIT,
        schema: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ContractError(f"URL {url!r}: must be an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 - a bad port raises only when read
        except ValueError:
            raise ContractError(f"URL {url!r}: the port is not a number from 0 to 65535") from None
        if not username:
            raise ContractError("username: must not be empty")
        if not password:
            raise ContractError("password: must not be empty")
        if max_examples is not None and max_examples < 1:
            raise ContractError(f"max_examples: must be at least 1, not {max_examples}")
        if timeout <= 0:
            raise ContractError(f"timeout: must be a positive number of seconds, not {timeout}")
        self.excluded = frozenset(exclude_checks)
        unknown = sorted(self.excluded - set(CHECK_NAMES))
        if unknown:
            raise ContractError(f"check {unknown[0]!r}: unknown (known: {', '.join(CHECK_NAMES)})")
        for name, value in (headers or {}).items():
            if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise ContractError(f"header {name!r}: not a valid header")
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.spec_path = Path(spec) if spec is not None else None
        load_spec(self.spec_path)  # an unreadable spec is bad usage, found before any request
        self.max_examples = max_examples
        self.seed = seed
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.expired_token = expired_token
        self.expiry_wait = expiry_wait
        self.schema = schema

    # -- running -------------------------------------------------------------------------

    def ensure_reachable(self) -> None:
        """Raise ContractError unless something answers HTTP at the URL."""
        answer = _Client(self.url, self.headers, self.timeout).send("GET", "/")
        if answer.status is None:
            raise ContractError(f"cannot reach {self.url}: {answer.error}")

    def run(
        self, *, only: Iterable[str] | None = None, progress: Progress | None = None
    ) -> ContractReport:
        """Run the checks (all, or `only` these names; ``"schema"`` selects every schema
        check) and return the report. Raises ContractError if the target is unreachable."""
        say = progress or (lambda _: None)
        chosen = set(only) if only is not None else None
        unknown = sorted((chosen or set()) - set(CHECK_NAMES) - {SCHEMA})
        if unknown:
            raise ContractError(f"check {unknown[0]!r}: unknown (known: {', '.join(CHECK_NAMES)})")
        started = time.monotonic()
        self.ensure_reachable()
        report = ContractReport(self.url)
        auth_checks = [c for c in AUTH_CHECKS if chosen is None or c.name in chosen]
        if auth_checks:
            say(f"auth checks against {self.url}:")
        for check in auth_checks:
            result = self.run_auth_check(check)
            report.results.append(result)
            say(
                f"  {result.status:<7} {result.name}"
                + (f" ({result.reason})" if result.reason else "")
            )
        schema_names = [
            n for n in SCHEMA_CHECKS if chosen is None or SCHEMA in chosen or n in chosen
        ]
        if schema_names:
            report.results.extend(self.run_schema(schema_names, say))
        report.duration = time.monotonic() - started
        return report

    def run_auth_check(self, check: AuthCheck) -> CheckResult:
        if check.name in self.excluded:
            return CheckResult(
                check.name, "auth", check.description, SKIPPED, "excluded (--exclude-check)"
            )
        try:
            check.run(_Probe(self))
        except _Failed as failure:
            evidence = tuple(exchange.describe(self.password) for exchange in failure.exchanges)
            return CheckResult(
                check.name, "auth", check.description, FAILED, failure.reason, evidence
            )
        except _Skipped as skip:
            return CheckResult(check.name, "auth", check.description, SKIPPED, skip.reason)
        return CheckResult(check.name, "auth", check.description, PASSED)

    def run_schema(self, names: Sequence[str], say: Progress) -> list[CheckResult]:
        """The schemathesis phases; one result per schemathesis check."""

        def skipped(reason: str) -> list[CheckResult]:
            return [CheckResult(n, "schema", SCHEMA_CHECKS[n], SKIPPED, reason) for n in names]

        if not self.schema:
            return skipped("schema checks turned off (--no-schema)")
        try:
            from ._schema_run import run_schemathesis
        except ImportError as error:
            return skipped(
                f"schemathesis is not installed ({error.name}): pip install 'mockauth[contract]'"
            )
        return run_schemathesis(self, names, say)


# -- the pytest door ----------------------------------------------------------------------


def contract_test(
    url: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    **options: Any,
) -> Callable[..., None]:
    """A pytest test, one case per contract check, to keep the contract in your own CI.

    ``url``, ``username`` and ``password`` default to the environment variables
    ``MOCKAUTH_CONTRACT_URL``, ``MOCKAUTH_CONTRACT_USERNAME``, ``MOCKAUTH_CONTRACT_PASSWORD``
    (read when the test runs; without them it is skipped); other keywords are
    ``Contract``'s. Assign the result to a ``test_`` name in a test module::

        from mockauth import contract_test
        test_auth_contract = contract_test("https://auth.staging.example.com",
                                           username="ci@example.com", max_examples=50)
    """
    import pytest

    def test_contract(check: str) -> None:
        target = url or os.environ.get(URL_VARIABLE)
        user = username or os.environ.get(USERNAME_VARIABLE)
        secret = password or os.environ.get(PASSWORD_VARIABLE)
        for value, variable in (
            (target, URL_VARIABLE),
            (user, USERNAME_VARIABLE),
            (secret, PASSWORD_VARIABLE),
        ):
            if not value:
                pytest.skip(f"no contract target: set {variable}")
        assert target is not None and user is not None and secret is not None  # noqa: PT018
        report = Contract(target, username=user, password=secret, **options).run(only=[check])
        if report.failed:
            pytest.fail(report.render(), pytrace=False)
        reasons = {r.reason for r in report.results if r.status == SKIPPED}
        if reasons and not any(r.status == PASSED for r in report.results):
            pytest.skip(f"{check}: " + "; ".join(sorted(reasons)))

    return pytest.mark.parametrize("check", [*AUTH_CHECK_NAMES, SCHEMA])(test_contract)
