"""MockAuth: the one object every door leads to.

It decides once what the mock is made of (settings, spec, stores), builds the state and
the app over them, and opens the doors: a live server (HTTP or HTTPS), ``responses``, the
Werkzeug test client and httpx (sync and async).
"""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._app import App, build_app
from ._clients import Client, client_from_mapping
from ._errors import ConfigError, MockAuthError, ServerError
from ._fixtures import Fixtures, User, load_fixtures, user_from_mapping
from ._modes import Arming
from ._settings import Settings, check_names
from ._spec import Spec, default_fixtures_path, load_spec
from ._state import State, check_lifetime
from ._state.board import ModeBoard
from ._state.clock import Clock, checked_seconds
from ._state.journal import Journal
from ._state.stores import Stores, open_stores
from ._state.tokens import Tokens
from ._values import describe

if TYPE_CHECKING:
    import httpx
    from werkzeug import test as werkzeug_test

    from ._doors.inprocess import Interceptor
    from ._doors.live import Server


_R = TypeVar("_R", User, Client)


class MockAuth:
    """A mock auth server: fixture users, JWTs, error modes, a clock and a journal.

    >>> auth = MockAuth(users=[User("ann", "pw")], access_token_lifetime=60)
    >>> auth.issue_token("ann")  # doctest: +ELLIPSIS
    'eyJ...'

    Every keyword besides ``users``, ``clients`` and ``spec`` is a setting (see
    ``Settings``), under the same name as in a fixture file's ``settings:`` block and the
    ``mockauth serve`` flags. ``clients`` are the OAuth clients (``Client`` objects or
    mappings, as in a fixture file's ``clients:``).
    """

    def __init__(
        self,
        users: Iterable[User | Mapping[str, Any]] = (),
        *,
        clients: Iterable[Client | Mapping[str, Any]] = (),
        spec: str | Path | None = None,
        **settings: Any,
    ) -> None:
        check_names(settings)
        self.settings = Settings(**settings)
        if spec is not None and not isinstance(spec, (str, os.PathLike)):
            raise ConfigError(f"spec: expected the path of an OpenAPI document, got {describe(spec)}")
        self.spec: Spec = load_spec(spec)
        self.fixtures_path: Path | None = None
        self.log_stream = sys.stderr
        # Tokens, modes, clock, run-time users and journal live in the stores: this
        # process's memory, or a Redis shared by every process of the same mock.
        self.stores: Stores = open_stores(self.settings, log=self.log)
        self.state = State(
            self.settings, self.stores, (_as_user(u) for u in users), (_as_client(c) for c in clients)
        )
        self.app: App = build_app(self.state, self.spec, log=self.log)
        # A shared store that another process seeded is joined as it stands.
        self.seeded = self.stores.initialize(self.reset)

    @classmethod
    def from_fixtures(
        cls, path: str | Path | None = None, *, spec: str | Path | None = None, **settings: Any
    ) -> MockAuth:
        """Users and settings from a fixture file or folder (the bundled one by default);
        keyword settings override the file's."""
        path = Path(path) if path is not None else default_fixtures_path()
        fixtures = load_fixtures(path)
        check_names(settings)
        auth = cls(fixtures.users, clients=fixtures.clients, spec=spec, **{**fixtures.settings, **settings})
        auth.fixtures_path = path
        return auth

    # -- the parts, by name ------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def tokens(self) -> Tokens:
        return self.state.tokens

    @property
    def modes(self) -> ModeBoard:
        return self.state.modes

    @property
    def journal(self) -> Journal:
        return self.state.journal

    @property
    def fixture_error(self) -> str | None:
        """Why the last fixture reload failed (None when the fixtures in force are the file's)."""
        return self.state.fixture_error

    @fixture_error.setter
    def fixture_error(self, error: str | None) -> None:
        self.state.fixture_error = error

    # -- users -------------------------------------------------------------------------

    @property
    def users(self) -> Mapping[str, User]:
        """The users by username (fixture users and those added at run time)."""
        return self.state.users.all()

    def find_user(self, login: str) -> User | None:
        """The user with this username or email."""
        return self.state.users.find(login)

    def user(self, username: str) -> User:
        return self.state.users.get(username)

    def add_user(self, user: User | Mapping[str, Any]) -> User:
        """Add a user (or replace the one with its username) until the next reset()."""
        return self.state.users.add(_as_user(user))

    def update_user(self, username: str, **changes: Any) -> User:
        """Change a user's password, email, claims, flags or mode: ``auth.update_user("ann", password="new")``."""
        return self.state.users.update(username, **changes)

    def remove_user(self, username: str) -> None:
        self.state.users.remove(username)

    def replace_fixtures(self, fixtures: Fixtures) -> None:
        """Swap in new fixture users and clients (hot reload); tokens, modes and clock are kept."""
        self.state.users.replace_fixtures(fixtures.users)
        self.state.clients.replace_fixtures(fixtures.clients)

    # -- OAuth clients -----------------------------------------------------------------

    @property
    def clients(self) -> Mapping[str, Client]:
        """The OAuth clients by client_id (fixture clients and those added at run time)."""
        return self.state.clients.all()

    def client(self, client_id: str) -> Client:
        return self.state.clients.get(client_id)

    def add_client(self, client: Client | Mapping[str, Any]) -> Client:
        """Add an OAuth client (or replace the one with its client_id) until the next reset().

        >>> auth.add_client({"client_id": "app", "client_secret": "s3cret",
        ...                  "grant_types": ["client_credentials"]})  # doctest: +SKIP
        """
        return self.state.clients.add(_as_client(client))

    def remove_client(self, client_id: str) -> None:
        self.state.clients.remove(client_id)

    def client_token(self, client_id: str, *, scope: str | None = None, expires_in: int | None = None) -> str:
        """An access token for a client itself, as the client_credentials grant issues it
        (``scope`` defaults to the client's own scopes)."""
        from ._app.oauth.grants.client_credentials import default_scope

        client = self.state.clients.get(client_id)
        if scope is not None and not isinstance(scope, str):
            raise ConfigError(f"scope: expected space-separated scopes, got {describe(scope)}")
        check_lifetime(expires_in)
        scope = default_scope(client) if scope is None else scope
        token, _ = self.state.tokens.client_token(client.client_id, scope=scope, expires_in=expires_in)
        return token

    def authorize(
        self,
        *,
        client_id: str,
        user: str,
        redirect_uri: str,
        scope: str | None = None,
        state: str | None = None,
        nonce: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str | None = None,
    ) -> str:
        """An authorization code, as the login page would hand it to the client once
        `user` signed in, without the page: exchange it at the token endpoint.

        >>> code = auth.authorize(client_id="demo-client", user="user@example.com",
        ...                       redirect_uri="http://127.0.0.1:5000/callback")  # doctest: +SKIP
        """
        params = {
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
            "state": state, "nonce": nonce, "code_challenge": code_challenge,
            "code_challenge_method": code_challenge_method,
        }
        location = self._authorized({k: v for k, v in params.items() if v is not None}, user)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        if "code" not in query:
            raise ConfigError(f"authorize: {query.get('error')}: {query.get('error_description')}")
        return query["code"]

    def authorize_url(self, url: str, *, user: str) -> str:
        """Where the login page sends the browser once `user` signed in, for an
        authorization request URL (the one an app under test redirected to): the client's
        redirect URI with ``code``, ``state`` and ``iss``, or with ``error`` as the
        endpoint would send it.

        >>> login = app_client.get("/login")                     # doctest: +SKIP
        >>> callback = auth.authorize_url(login.headers["Location"], user="admin")
        >>> app_client.get(callback)
        """
        parts = urllib.parse.urlsplit(url)
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(parts.query))
        issuer = self.settings.issuer or self.settings.public_url or f"{parts.scheme}://{parts.netloc}"
        return self._authorized(params, user, issuer)

    def _authorized(self, params: Mapping[str, Any], user: str, issuer: str | None = None) -> str:
        from ._app.http import ApiError
        from ._app.oauth.authorize import authorize_for

        found = self.state.users.find(user)
        username = found.username if found else user
        try:
            return authorize_for(self.app, params, username, issuer or self.state.issuer(None))
        except ApiError as error:
            raise ConfigError(f"authorize: {error.error}: {error.description}") from None

    # -- modes, tokens, state ----------------------------------------------------------

    def fail(self, mode: str, **scope_and_options: Any) -> _Armed:
        """Arm an error mode; usable as a context manager that disarms it on exit.

        >>> auth.fail("rate_limited", operation="login", times=2, retry_after=5)  # doctest: +SKIP
        >>> with auth.fail("unavailable"):  # doctest: +SKIP
        ...     ...
        """
        return _Armed(self.modes, self.modes.arm_spec(mode, **scope_and_options))

    def disarm(self, mode: str | None = None) -> int:
        """Disarm every arming of `mode`, or every mode."""
        return self.modes.disarm(name=mode)

    def issue_token(self, username: str, *, expires_in: int | None = None, **claims: Any) -> str:
        """A signed access token for a known user, as login would issue it.

        ``expires_in=-1`` gives an expired one; extra keywords add or override claims
        (``aud="someone-else"`` for a token the mock will refuse).
        """
        return self.state.issue_token(username, expires_in=expires_in, **claims)

    def totp(self, user: str, *, at: float | None = None) -> str:
        """The one-time code that passes `user`'s mfa step now on the mock clock (or at the
        Unix time `at`): its RFC 6238 TOTP code, else its fixed ``mfa: {code}``, else the
        development code that challenges of the ``mfa_required`` mode take.

        >>> code = auth.totp("mfa@example.com")  # doctest: +SKIP
        >>> http.post("/auth/mfa", data={"mfa_token": token, "code": code})  # doctest: +SKIP

        Each TOTP code passes once: to sign the same user in again, move the clock on a
        step first (``auth.clock.advance(30)``). UnknownUserError for an unknown user.
        """
        found = self.state.users.find(user) or self.state.users.get(user)  # get: UnknownUserError
        return self.state.challenges.current_code(found, None if at is None else checked_seconds("at", at))[0]

    def reset(self) -> None:
        """Back to the fixture state: users, no armed modes but the users' own, a running
        wall clock, no tokens or challenges, an empty journal."""
        self.state.reset()

    def check(self) -> None:
        """Raise the first error that a request raised inside the app, if any (then forget them).

        The app keeps the first few errors (``MAX_ERRORS``) and counts the rest."""
        errors, dropped = self.app.take_errors()
        if errors:
            more = len(errors) - 1 + dropped
            also = f" (and {more} more)" if more else ""
            raise ServerError(f"a request failed inside mockauth: {errors[0]!r}{also}") from errors[0]

    def log(self, message: str) -> None:
        with contextlib.suppress(Exception):
            print(f"mockauth: {message}", file=self.log_stream, flush=True)

    # -- doors -------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Server:
        """A live threaded HTTP server; use as a context manager: ``with auth.serve() as server:``.

        With the ``tls`` setting it speaks HTTPS: ``server.url`` is https:// and
        ``server.ca_bundle`` the CA certificate clients must trust."""
        if not isinstance(host, str) or not host:
            raise ConfigError(f"host: expected an address or a name to listen on, got {describe(host)}")
        from ._doors.exposure import expose
        from ._doors.live import Server
        from ._doors.tls import server_tls

        exposure = expose(self.app, host)  # off loopback: no default secret, an admin token
        for line in exposure.warnings():
            self.log(line)
        return Server(
            self.app, host, port, on_stop=self.check, read_timeout=self.settings.read_timeout,
            guard=exposure.guard, tls=server_tls(self.settings, host),
        )

    def test_client(self) -> werkzeug_test.Client:
        """A Werkzeug test client calling the app in-process."""
        from werkzeug.test import Client as TestClient

        # The seed API sets no cookies; without a cookie jar the client skips rebuilding
        # the request URL twice per call.
        return TestClient(self.app, use_cookies=False)

    def intercept(self, base_url: str = "https://auth.example.test", *, passthrough: bool = True) -> Interceptor:
        """Answer ``requests`` calls to `base_url` in-process through ``responses``; a
        path in it is where the mock is mounted (``https://example.test/api``)."""
        from ._doors.inprocess import Interceptor

        return Interceptor(self.app, base_url, passthrough=passthrough)

    def httpx_transport(self, base_url: str | None = None) -> httpx.BaseTransport:
        """An httpx transport that answers in-process: ``httpx.Client(transport=auth.httpx_transport())``.

        With `base_url` (``https://example.test/api``), requests under its path are
        answered as if the mock were mounted there (``/api/auth/login`` is login)."""
        from ._doors.inprocess import httpx_transport

        return httpx_transport(self.app, base_url)

    def async_httpx_transport(self, base_url: str | None = None) -> httpx.AsyncBaseTransport:
        """An async httpx transport that answers in-process, each request in a worker
        thread so a ``slow`` mode never blocks the event loop:
        ``httpx.AsyncClient(transport=auth.async_httpx_transport(), base_url=...)``; a
        `base_url` path is where the mock is mounted, as for httpx_transport."""
        from ._doors.inprocess import async_httpx_transport

        return async_httpx_transport(self.app, base_url)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)


class _Armed:
    """What ``fail()`` returns: the arming, and a context manager that disarms it."""

    def __init__(self, modes: ModeBoard, arming: Arming) -> None:
        self.modes = modes
        self.arming = arming

    @property
    def id(self) -> int:
        return self.arming.id

    def disarm(self) -> None:
        with contextlib.suppress(MockAuthError):
            self.modes.disarm(self.arming.id)

    def __enter__(self) -> Arming:
        return self.arming

    def __exit__(self, *exc: object) -> None:
        self.disarm()

    def __repr__(self) -> str:
        return f"<armed {self.arming.mode.name} id={self.arming.id}>"


def _as_user(user: User | Mapping[str, Any]) -> User:
    return _as_record(user, User, user_from_mapping, "users")


def _as_client(client: Client | Mapping[str, Any]) -> Client:
    return _as_record(client, Client, client_from_mapping, "clients")


def _as_record(value: Any, kind: type[_R], build: Callable[[Any], _R], what: str) -> _R:
    if isinstance(value, kind):
        return value
    if isinstance(value, Mapping):
        return build(value)
    raise ConfigError(f"{what}: expected {kind.__name__} objects or mappings, got {type(value).__name__}")
