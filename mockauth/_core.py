"""MockAuth: the one object every door leads to."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._app import App
from ._clock import Clock
from ._errors import ConfigError, MockAuthError, ServerError, UnknownUserError
from ._journal import Journal
from ._modes import Arming, ModeBoard
from ._settings import Settings, check_names
from ._spec import Spec, default_fixtures_path, load_spec
from ._store import Store, open_store
from ._tokens import Tokens
from ._users import Fixtures, User, index_users, load_fixtures, user_from_mapping

if TYPE_CHECKING:
    import httpx
    from werkzeug.test import Client

    from ._transports import Interceptor, Server


class MockAuth:
    """A mock auth server: fixture users, JWTs, error modes, a clock and a journal.

    >>> auth = MockAuth(users=[User("ann", "pw")], access_token_lifetime=60)
    >>> auth.issue_token("ann")  # doctest: +ELLIPSIS
    'eyJ...'

    Every keyword besides ``users`` and ``spec`` is a setting (see ``Settings``), under the
    same name as in a fixture file's ``settings:`` block and the ``mockauth serve`` flags.
    """

    def __init__(
        self,
        users: Iterable[User | Mapping[str, Any]] = (),
        *,
        spec: str | Path | None = None,
        **settings: Any,
    ) -> None:
        check_names(settings)
        self.settings = Settings(**settings)
        self.spec: Spec = load_spec(spec)
        self.fixtures_path: Path | None = None
        self.fixture_error: str | None = None
        self.log_stream = sys.stderr
        self._fixture_users = tuple(_as_user(u) for u in users)
        # Tokens, modes, clock, run-time users and journal live in the store: this
        # process's memory, or a Redis shared by every process of the same mock.
        self.store: Store = open_store(self.settings, log=self.log)
        self.clock = Clock(self.store)
        self.tokens = Tokens(self.settings, self.clock, store=self.store)
        self.modes = ModeBoard(self.store)
        self.journal = Journal(self.settings.journal_size, store=self.store)
        self._users_lock = threading.Lock()
        self._login_index: tuple[Mapping[str, User], dict[str, User]] = ({}, {})
        self.app = App(self)
        # A shared store that another process seeded is joined as it stands.
        self.seeded = self.store.initialize(self.reset)

    @classmethod
    def from_fixtures(
        cls, path: str | Path | None = None, *, spec: str | Path | None = None, **settings: Any
    ) -> MockAuth:
        """Users and settings from a fixture file or folder (the bundled one by default);
        keyword settings override the file's."""
        path = Path(path) if path is not None else default_fixtures_path()
        fixtures = load_fixtures(path)
        check_names(settings)
        auth = cls(fixtures.users, spec=spec, **{**fixtures.settings, **settings})
        auth.fixtures_path = path
        return auth

    # -- users -------------------------------------------------------------------------

    @property
    def users(self) -> Mapping[str, User]:
        """The users by username (fixture users and those added at run time)."""
        return self.store.users()

    def find_user(self, login: str) -> User | None:
        """The user with this username or email."""
        users = self.store.users()
        indexed, index = self._login_index
        if indexed is not users:  # the store hands out a new mapping whenever users change
            index = index_users(users.values())
            self._login_index = (users, index)
        return index.get(login)

    def user(self, username: str) -> User:
        users = self.store.users()
        try:
            return users[username]
        except KeyError:
            raise UnknownUserError(f"no user {username!r} (users: {', '.join(users) or 'none'})") from None

    def add_user(self, user: User | Mapping[str, Any]) -> User:
        """Add a user (or replace the one with its username) until the next reset()."""
        user = _as_user(user)
        with self._users_lock:
            self.store.put_user(user)
            self._arm_user_mode(user)
        return user

    def update_user(self, username: str, **changes: Any) -> User:
        """Change a user's password, email, claims, flags or mode: ``auth.update_user("ann", password="new")``."""
        with self._users_lock:
            old = self.user(username)
            values = {**old.public(), "password": old.password, **changes}
            try:
                user = user_from_mapping(values)
            except ConfigError as error:
                raise ConfigError(f"user {username!r}: {error}") from None
            self.store.put_user(user)
            self.modes.disarm_user_fixture(username)
            self._arm_user_mode(user)
        return user

    def remove_user(self, username: str) -> None:
        with self._users_lock:
            self.user(username)
            self.store.remove_user(username)
            self.modes.disarm_user_fixture(username)

    def _arm_user_mode(self, user: User) -> None:
        if user.mode:
            self.modes.arm_spec(user.mode, user=user.username, source="fixture")

    def replace_fixtures(self, fixtures: Fixtures) -> None:
        """Swap in new fixture users (hot reload); tokens, modes and clock are kept."""
        with self._users_lock:
            self._fixture_users = fixtures.users
            for username in self.users:
                self.modes.disarm_user_fixture(username)
            self.store.replace_users(fixtures.users)
            for user in fixtures.users:
                self._arm_user_mode(user)

    # -- modes, tokens, state ----------------------------------------------------------

    def fail(self, mode: str, **scope_and_options: Any) -> _Armed:
        """Arm an error mode; usable as a context manager that disarms it on exit.

        >>> auth.fail("rate_limited", operation="login", times=2, retry_after=5)  # doctest: +SKIP
        >>> with auth.fail("unavailable"):  # doctest: +SKIP
        ...     ...
        """
        return _Armed(self, self.modes.arm_spec(mode, **scope_and_options))

    def disarm(self, mode: str | None = None) -> int:
        """Disarm every arming of `mode`, or every mode."""
        return self.modes.disarm(name=mode)

    def issue_token(self, username: str, *, expires_in: int | None = None, **claims: Any) -> str:
        """A signed access token for a known user, as login would issue it.

        ``expires_in=-1`` gives an expired one; extra keywords add or override claims
        (``aud="someone-else"`` for a token the mock will refuse).
        """
        user = self.user(username)
        token, _ = self.tokens.access_token(user, expires_in=expires_in, claims=claims)
        return token

    def reset(self) -> None:
        """Back to the fixture state: users, no armed modes but the users' own, a running
        wall clock, no tokens, an empty journal."""
        with self._users_lock:
            self.modes.disarm()
            self.store.replace_users(self._fixture_users)
            for user in self._fixture_users:
                self._arm_user_mode(user)
        self.clock.reset()
        self.tokens.reset()
        self.journal.clear()

    def state(self) -> dict[str, Any]:
        return {
            "settings": self.settings.public(),
            "users": [user.public() for user in self.users.values()],
            "modes": [arming.as_dict() for arming in self.modes.armed()],
            "clock": self.clock.as_dict(),
            "journal_total": self.journal.total,
            "fixture_error": self.fixture_error,
        }

    def check(self) -> None:
        """Raise the first error that a request raised inside the app, if any (then forget them)."""
        errors, self.app.errors[:] = list(self.app.errors), []
        if errors:
            raise ServerError(f"a request failed inside mockauth: {errors[0]!r}") from errors[0]

    def log(self, message: str) -> None:
        with contextlib.suppress(Exception):
            print(f"mockauth: {message}", file=self.log_stream, flush=True)

    # -- doors -------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Server:
        """A live threaded HTTP server; use as a context manager: ``with auth.serve() as server:``."""
        from ._exposure import expose
        from ._transports import Server

        exposure = expose(self, host)  # off loopback: no default secret, an admin token
        for line in exposure.warnings():
            self.log(line)
        server = Server(
            self.app, host, port, on_stop=self.check, read_timeout=self.settings.read_timeout
        )
        server.admin_token = exposure.admin_token
        return server

    def test_client(self) -> Client:
        """A Werkzeug test client calling the app in-process."""
        from werkzeug.test import Client

        # The mock sets no cookies; without a cookie jar the client skips rebuilding the
        # request URL twice per call.
        return Client(self.app, use_cookies=False)

    def intercept(self, base_url: str = "https://auth.example.test", *, passthrough: bool = True) -> Interceptor:
        """Answer ``requests`` calls to `base_url` in-process through ``responses``."""
        from ._transports import Interceptor

        return Interceptor(self.app, base_url, passthrough=passthrough)

    def httpx_transport(self) -> httpx.BaseTransport:
        """An httpx transport that answers in-process: ``httpx.Client(transport=auth.httpx_transport())``."""
        from ._transports import httpx_transport

        return httpx_transport(self.app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)


class _Armed:
    """What ``fail()`` returns: the arming, and a context manager that disarms it."""

    def __init__(self, auth: MockAuth, arming: Arming) -> None:
        self.auth = auth
        self.arming = arming

    @property
    def id(self) -> int:
        return self.arming.id

    def disarm(self) -> None:
        with contextlib.suppress(MockAuthError):
            self.auth.modes.disarm(self.arming.id)

    def __enter__(self) -> Arming:
        return self.arming

    def __exit__(self, *exc: object) -> None:
        self.disarm()

    def __repr__(self) -> str:
        return f"<armed {self.arming.mode.name} id={self.arming.id}>"


def _as_user(user: User | Mapping[str, Any]) -> User:
    if isinstance(user, User):
        return user
    if isinstance(user, Mapping):
        return user_from_mapping(user)
    raise ConfigError(f"users: expected User objects or mappings, got {type(user).__name__}")

