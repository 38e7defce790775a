"""What a check may do against the target, and what a check is.

A ``Check`` declares the operations it ``needs`` (without them it is skipped, with the
reason) and those it only ``uses`` when the deployment offers them; its ``Probe`` refuses
to call anything else, so the declarations stay true. A check fails with ``Failed`` and
the exchanges that prove it, or is skipped with ``Skipped`` and the reason it could not
run. A ``CheckTable`` is a kind of checks the runner runs (``catalog.TABLES``).

The checks of one run share a ``Session``: the login of the given user that every check
needing only *a* token reuses (one login where there were one per check: the cost that
counts against a deployment whose login takes ~100 ms of CPU), the answers to a wrong
password and an unknown user (sent once a run, so a run counts once toward a lockout),
notes a flow's later checks read (a one-time code just used, a password just changed),
and what the run changed on the target, which the report lists.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .client import Client, Exchange
from .operations import Operations
from .results import CONTENT_TYPES, WRONG_PASSWORD, RunOptions
from .tokens import jwt_parts


class Failed(Exception):
    def __init__(self, reason: str, *exchanges: Exchange) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exchanges = exchanges


class Skipped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Login:
    exchange: Exchange
    access_token: str
    refresh_token: str | None
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    """One rule: ``run`` raises Failed or Skipped, or returns when the target kept it.
    ``alone``: it may end sessions other than its own on some deployments (a logout that
    signs the user out everywhere, refresh reuse detection that revokes every token), so
    it runs after the checks that run side by side, never beside them."""

    name: str
    description: str
    run: Callable[[Probe], None]
    needs: tuple[str, ...] = ("login",)
    uses: tuple[str, ...] = ()
    alone: bool = False


@dataclass(frozen=True)
class CheckTable:
    """A kind of checks: ``kind`` names its results (and their JUnit class), ``title``
    heads its part of the report. ``in_order``: its checks are the steps of flows that
    build on each other (a code used, then replayed), so they run one by one, in order."""

    kind: str
    title: str
    checks: tuple[Check, ...]
    in_order: bool = False


class Session:
    """What the checks of one run share (see the module docstring); safe across threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.memo: dict[str, Any] = {}
        self.changes: list[str] = []

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()`'s value (or the exception it raised), made once a run for all checks."""
        with self.lock:
            if key not in self.memo:
                try:
                    self.memo[key] = make()
                except (Failed, Skipped) as raised:
                    self.memo[key] = raised
            value = self.memo[key]
        if isinstance(value, Failed):
            raise Failed(value.reason, *value.exchanges)
        if isinstance(value, Skipped):
            raise Skipped(value.reason)
        return value

    def changed(self, what: str) -> None:
        with self.lock:
            if what not in self.changes:
                self.changes.append(what)


class Probe:
    """What one check may do against the target: the operations it declared, and only those."""

    def __init__(
        self, options: RunOptions, operations: Operations, allowed: frozenset[str], client: Client,
        session: Session | None = None,
    ) -> None:
        self.options = options
        self.operations = operations
        self.allowed = allowed
        self.client = client
        self.session = session or Session()

    def offers(self, operation: str) -> bool:
        """Whether an operation the check only ``uses`` is there to use."""
        return operation in self.allowed

    def label(self, operation: str) -> str:
        """'GET /users/me/': how reasons name an operation, at the path the deployment uses."""
        return self.operations.offered[operation].label

    def send(
        self, operation: str, *, fields: list[tuple[str, str]] | None = None, as_json: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Exchange:
        """Send `fields` to `operation` as a form or JSON (as the target takes them unless
        `as_json` says which)."""
        if operation not in self.allowed:
            raise RuntimeError(f"a check called {operation!r} without declaring it in needs or uses")
        endpoint = self.operations.offered[operation]
        json_body = form = None
        if fields is not None:
            if as_json if as_json is not None else self.options.login_body == "json":
                json_body = dict(fields)
            else:
                form = fields
        return self.client.send(
            endpoint.method, endpoint.path, operation=operation, form=form, json_body=json_body, headers=headers
        )

    def login(
        self, username: str | None = None, password: str | None = None, *, as_json: bool | None = None
    ) -> Exchange:
        c = self.options
        fields = [
            ("username", c.username if username is None else username),
            ("password", c.password if password is None else password),
        ]
        return self.send("login", fields=fields, as_json=as_json)

    @staticmethod
    def body_kind(exchange: Exchange) -> str:
        """How a request's body was sent: 'a form (application/x-www-form-urlencoded)' or 'JSON (...)'."""
        sent = {key.lower(): value for key, value in exchange.request_headers}.get("content-type", "")
        return f"JSON ({CONTENT_TYPES['json']})" if "json" in sent else f"a form ({CONTENT_TYPES['form']})"

    def wrong_password(self) -> str:
        # Not derived from the real one, so reports can show it without giving that away.
        password = self.options.password
        return WRONG_PASSWORD if password != WRONG_PASSWORD else WRONG_PASSWORD + "-2"

    def token(self) -> Login:
        """The run's login with the given credentials (made once, shared by every check
        that only reads its token), or skip: the check needs one."""
        return self.session.once("login", self.fresh_token)  # type: ignore[no-any-return]

    def fresh_token(self) -> Login:
        """A login of this check's own, for one that spends, revokes or waits out its token."""
        exchange = self.login()
        login = as_login(exchange)
        if login is None:
            raise Skipped(f"needs a token: logging in gave {exchange.answer()} (see login_succeeds)")
        return login

    def keep(self, exchange: Exchange) -> None:
        """Make a login that worked the run's shared one, if there is none yet."""
        login = as_login(exchange)
        if login is not None:
            self.session.once("login", lambda: login)

    def wrong_password_answer(self) -> Exchange:
        """The answer to the given user with a wrong password: asked once a run."""
        return self.session.once("wrong password", lambda: self.login(password=self.wrong_password()))  # type: ignore[no-any-return]

    def unknown_user_answer(self) -> Exchange:
        """The answer to a user that does not exist: asked once a run."""
        return self.session.once("unknown user", lambda: self.login(username=unknown_user()))  # type: ignore[no-any-return]

    def me(self, token: str | None, *, authorization: str | None = None) -> Exchange:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.send("me", headers=headers)

    def working_token(self, *, fresh: bool = False) -> Login:
        """A token `me` accepts (the run's shared one unless `fresh`); without one,
        refusals prove nothing."""
        login = self.fresh_token() if fresh else self.token()
        if fresh:
            answer = self.me(login.access_token)
        else:
            answer = self.session.once("me accepts", lambda: self.me(login.access_token))
        if answer.status != 200:
            raise Skipped(
                f"needs {self.label('me')} to accept a fresh token, but it gave {answer.answer()} "
                "(see me_accepts_token)"
            )
        return login

    def refresh(self, refresh_token: str) -> Exchange:
        return self.send("refresh", fields=[("refresh_token", refresh_token)])

    def logout(self, token: str) -> Exchange:
        return self.send("logout", headers={"Authorization": f"Bearer {token}"})

    def refused(self, exchange: Exchange, what: str, *, bearer: bool = True) -> None:
        """A bearer refusal: 401 with WWW-Authenticate (RFC 6750 section 3)."""
        if exchange.status is None:
            raise Failed(f"{what}: {exchange.answer()}", exchange)
        if 200 <= exchange.status < 300:
            raise Failed(f"{what} was accepted ({exchange.answer()}); it must be refused with 401", exchange)
        if exchange.status != 401:
            raise Failed(f"{what} got {exchange.answer()}; a refused bearer token must get 401", exchange)
        challenge = exchange.header("WWW-Authenticate")
        if bearer and (not challenge or not challenge.strip().lower().startswith("bearer")):
            raise Failed(
                f"{what} got 401 without a 'WWW-Authenticate: Bearer ...' header (RFC 6750 section 3)", exchange
            )


def as_login(exchange: Exchange) -> Login | None:
    """The tokens of an answer that has an access_token, else None."""
    token = exchange.field("access_token")
    if exchange.status != 200 or not isinstance(token, str) or not token:
        return None
    refresh = exchange.field("refresh_token")
    return Login(exchange, token, refresh if isinstance(refresh, str) and refresh else None, exchange.json())


def unknown_user() -> str:
    return f"mockauth-contract-no-such-user-{secrets.token_hex(4)}@example.invalid"


def decoded(login: Login) -> tuple[dict[str, Any], dict[str, Any], str]:
    parts = jwt_parts(login.access_token)
    if parts is None:
        raise Skipped("the access token is not a JWT, so it cannot be altered (see access_token_is_jwt)")
    return parts
