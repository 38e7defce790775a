"""pytest plugin: a mock auth server as fixtures, loaded through the ``pytest11`` entry point.

Fixtures (function scope unless noted)::

    mockauth                the MockAuth object, reset to the fixture state before each test
    mockauth_url            base URL of the session's live server (started on first use)
    mockauth_requests       ``requests`` calls to ``.url`` answered in-process (responses)
    mockauth_httpx          an ``httpx.Client`` whose base URL is answered in-process
    mockauth_token          factory: valid, expired or tampered tokens for any fixture user
    mockauth_fixtures_path  (session) fixture file or folder; None: the option, ini or bundled
    mockauth_settings       (session) settings for every test's mock, e.g. {"algorithm": "RS256"}
    mockauth_base_url       (session) the URL mockauth_requests and mockauth_httpx answer for
    mockauth_target         (session) the --mockauth-target URL, or None

Marker: ``@pytest.mark.mockauth(mode=..., users=..., clock=..., spec=..., <any setting>=...)``.
Options: ``--mockauth-fixtures``, ``--mockauth-target``, ``--mockauth-spec`` and the ini
keys ``mockauth_fixtures``, ``mockauth_target``, ``mockauth_spec``, ``mockauth_base_url``,
``mockauth_passthrough``.

State lives in ``config.stash`` (and the per-test fixture is a method of a plugin object
registered with each session), so several pytest sessions in one process (pytester) and
xdist workers (one process each, so one server each) never share a mock.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._core import MockAuth
from ._errors import ConfigError, MockAuthError, UnknownUserError
from ._http import is_number
from ._modes import ModeBoard
from ._settings import Settings
from ._spec import default_fixtures_path, load_spec
from ._users import User, load_fixtures, user_from_mapping

if TYPE_CHECKING:
    import httpx

    from ._transports import Interceptor, Server

DEFAULT_BASE_URL = "https://auth.example.test"
# Keywords of the marker that are not settings; each is a name of the Python API:
# MockAuth(users=..., spec=...), MockAuth.fail(mode, ...), MockAuth.clock.
MARKER_KEYWORDS = ("clock", "mode", "spec", "users")
CLOCK_ACTIONS = ("advance", "freeze", "set")


def marker_keywords() -> tuple[str, ...]:
    """Every keyword ``@pytest.mark.mockauth(...)`` accepts, sorted."""
    return tuple(sorted((*MARKER_KEYWORDS, *Settings.names())))


def _skip_reason(what: str, target: str) -> str:
    return (
        f"needs mock-only control ({what}); --mockauth-target {target} is a real "
        "deployment, which mockauth cannot arm modes on, move the clock of, read the "
        "journal of or add users to"
    )


# -- per-test configuration (the marker) ---------------------------------------------


@dataclass(frozen=True)
class MarkerConfig:
    """What ``@pytest.mark.mockauth(...)`` asks of one test, checked at collection."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    spec: Path | None = None
    users: tuple[User, ...] | None = None
    modes: tuple[str, ...] = ()
    clock: Mapping[str, float | bool] = field(default_factory=dict)

    def apply(self, auth: MockAuth) -> None:
        """Users, modes and clock on a freshly reset mock."""
        if self.users is not None:
            for username in list(auth.users):
                auth.remove_user(username)
            for user in self.users:
                auth.add_user(user)
        for mode in self.modes:
            auth.fail(mode, source="marker")
        clock = self.clock
        if clock.get("freeze"):
            auth.clock.freeze(float(clock["set"]) if "set" in clock else None)
        elif "set" in clock:
            auth.clock.set(float(clock["set"]))
        if "advance" in clock:
            auth.clock.advance(float(clock["advance"]))


NO_CONFIG = MarkerConfig()
TEST_CONFIG = pytest.StashKey[MarkerConfig]()


def parse_marker(kwargs: Mapping[str, Any], base: Path) -> MarkerConfig:
    """Check the marker's keywords and values; raises ConfigError naming the bad one."""
    known = marker_keywords()
    for name in kwargs:
        if name not in known:
            raise ConfigError(f"unknown keyword {name!r} (keywords: {', '.join(known)})")
    settings = {k: v for k, v in kwargs.items() if k in Settings.names()}
    Settings().replace(**settings)  # types and ranges, as MockAuth(...) would check them
    spec = None
    if kwargs.get("spec") is not None:
        spec = (base / Path(kwargs["spec"])).resolve()
        load_spec(spec)
    users = None
    if "users" in kwargs:
        given = kwargs["users"]
        if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
            raise ConfigError(f"users: expected a list of User objects or mappings, got {given!r}")
        users = tuple(u if isinstance(u, User) else _user(u) for u in given)
    modes = kwargs.get("mode") or ()
    if isinstance(modes, str):
        modes = (modes,)
    if not isinstance(modes, (list, tuple)) or not all(isinstance(m, str) for m in modes):
        raise ConfigError(
            f"mode: expected a mode like 'rate_limited:operation=login:times=2' or a list "
            f"of them, got {kwargs.get('mode')!r}"
        )
    board = ModeBoard()  # a scratch board: arming checks names, scopes and options
    for mode in modes:
        board.arm_spec(mode)
    return MarkerConfig(settings, spec, users, tuple(modes), _clock(kwargs.get("clock")))


def _user(entry: Any) -> User:
    try:
        return user_from_mapping(entry)
    except ConfigError as error:
        raise ConfigError(f"users: {error}") from None


def _clock(value: Any) -> dict[str, float | bool]:
    """``clock=1700000000`` freezes time there; ``clock={"advance": 901}``,
    ``{"set": t}`` and ``{"freeze": True}`` (combinable) move it as ``auth.clock`` does."""
    if value is None:
        return {}
    if is_number(value):
        return {"set": float(value), "freeze": True}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"clock: expected a Unix time or a mapping of {', '.join(CLOCK_ACTIONS)}, got {value!r}"
        )
    for key, item in value.items():
        if key not in CLOCK_ACTIONS:
            actions = ", ".join(CLOCK_ACTIONS)
            raise ConfigError(f"clock: unknown action {key!r} (actions: {actions})")
        if key == "freeze" and not isinstance(item, bool):
            raise ConfigError(f"clock: freeze must be true or false, got {item!r}")
        if key != "freeze" and not is_number(item):
            raise ConfigError(f"clock: {key} must be a number of seconds, got {item!r}")
    return dict(value)


# -- session state ---------------------------------------------------------------------


class _Switch:
    """The live server's WSGI app: hands each request to the current test's mock, so one
    server serves every test, whatever settings its marker asks for."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        app = self.app
        if app is None:
            body = json.dumps({
                "error": "temporarily_unavailable",
                "error_description": "No test is using mockauth.",
            }).encode()
            start_response("503 SERVICE UNAVAILABLE", [("Content-Type", "application/json")])
            return [body]
        return app(environ, start_response)


@dataclass
class State:
    """Everything the plugin keeps for one pytest session."""

    fixtures: Path | None
    spec: Path | None
    target: str | None
    base_url: str
    passthrough: bool
    mocks: dict[tuple[Any, ...], MockAuth] = field(default_factory=dict)
    test: MarkerConfig = NO_CONFIG  # the running test's marker, set by pytest_runtest_setup
    switch: _Switch = field(default_factory=_Switch)
    server: Server | None = None

    def mock(
        self, fixtures: str | Path | None, settings: Mapping[str, Any], spec: Path | None
    ) -> MockAuth:
        """One mock per distinct (fixtures, settings, spec), built on first use and reused:
        building one parses the spec and may generate an RSA key, resetting one is cheap."""
        path = Path(fixtures) if fixtures is not None else None
        key = (path, tuple(sorted(settings.items())), spec)
        auth = self.mocks.get(key)
        if auth is None:
            try:
                auth = MockAuth.from_fixtures(path, spec=spec, **settings)
            except MockAuthError as error:
                raise pytest.UsageError(f"mockauth: {error}") from None
            self.mocks[key] = auth
        return auth

    def live_server(self) -> Server:
        if self.server is None:
            from ._transports import Server

            self.server = Server(self.switch).start()
        return self.server

    def close(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()


STATE = pytest.StashKey[State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockauth", "mockauth (a mock auth server as fixtures)")
    group.addoption(
        "--mockauth-fixtures", metavar="PATH", default=None,
        help="fixture file or folder of users and settings (default: the bundled fixtures)",
    )
    group.addoption(
        "--mockauth-target", metavar="URL", default=None,
        help="run against a real deployment at URL: the URL fixtures point at it and tests "
        "that need mock-only control (modes, clock, journal, users) are skipped",
    )
    group.addoption(
        "--mockauth-spec", metavar="PATH", default=None,
        help="OpenAPI document the mock serves (default: the bundled openapi.yaml)",
    )
    parser.addini(
        "mockauth_fixtures", "mockauth: fixture file or folder (as --mockauth-fixtures)", default=""
    )
    parser.addini(
        "mockauth_target", "mockauth: URL of a real deployment (as --mockauth-target)", default=""
    )
    parser.addini("mockauth_spec", "mockauth: OpenAPI document (as --mockauth-spec)", default="")
    parser.addini(
        "mockauth_base_url",
        f"mockauth: base URL answered in-process by mockauth_requests and mockauth_httpx "
        f"(default: {DEFAULT_BASE_URL})",
        default=DEFAULT_BASE_URL,
    )
    parser.addini(
        "mockauth_passthrough",
        "mockauth: let mockauth_requests pass other URLs to the network (default: true); "
        "false makes them raise ConnectionError",
        type="bool", default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockauth(mode=..., users=..., clock=..., spec=..., **settings): configure this test's "
        "mock auth server; the keywords are those of MockAuth(...) and MockAuth.fail(mode)",
    )
    state = config.stash[STATE] = _state_from(config)
    config.pluginmanager.register(_PerTest(state), "mockauth-per-test")


def _state_from(config: pytest.Config) -> State:
    ini_base = config.inipath.parent if config.inipath else config.rootpath

    def path(option: str, ini: str) -> Path | None:
        given = config.getoption(option)
        if given:
            return (config.invocation_params.dir / str(given)).resolve()
        text = str(config.getini(ini) or "")
        return (ini_base / text).resolve() if text else None

    fixtures = path("mockauth_fixtures", "mockauth_fixtures")
    spec = path("mockauth_spec", "mockauth_spec")
    try:
        # Checked now, so a wrong path stops the run once instead of failing every test.
        if fixtures is not None:
            load_fixtures(fixtures)
        if spec is not None:
            load_spec(spec)
    except MockAuthError as error:
        raise pytest.UsageError(f"mockauth: {error}") from None
    target = config.getoption("mockauth_target") or str(config.getini("mockauth_target")) or None
    if target is not None:
        target = _check_url("--mockauth-target", target)
    base_url = _check_url("mockauth_base_url", str(config.getini("mockauth_base_url")))
    return State(fixtures, spec, target, base_url, bool(config.getini("mockauth_passthrough")))


def _check_url(name: str, url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise pytest.UsageError(
            f"mockauth: {name}: expected an http:// or https:// URL, got {url!r}"
        )
    return url.strip().rstrip("/")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Handed over here so the per-test fixture need not ask for `request`, which costs
    # pytest a signature inspection every time it is asked for.
    item.config.stash[STATE].test = item.stash.get(TEST_CONFIG, NO_CONFIG)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    for item in items:
        markers = list(item.iter_markers("mockauth"))
        if markers:
            kwargs: dict[str, Any] = {}
            for marker in reversed(markers):  # the closest marker (the function's) wins
                if marker.args:
                    raise pytest.UsageError(
                        f"{item.nodeid}: @pytest.mark.mockauth: takes keywords only, "
                        f"got {marker.args!r}"
                    )
                kwargs.update(marker.kwargs)
            try:
                item.stash[TEST_CONFIG] = parse_marker(kwargs, item.path.parent)
            except MockAuthError as error:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.mockauth: {error}") from None
        if state.target is None:
            continue
        if markers:
            what = "@pytest.mark.mockauth(" + ", ".join(sorted(kwargs)) + ")"
            item.add_marker(pytest.mark.skip(reason=_skip_reason(what, state.target)))
        elif "mockauth" in getattr(item, "fixturenames", ()):
            what = "the mockauth fixture: modes, clock, journal, users"
            item.add_marker(pytest.mark.skip(reason=_skip_reason(what, state.target)))


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mockauth_fixtures_path() -> str | Path | None:
    """The fixture file or folder every test's mock loads. None (the default) means the
    --mockauth-fixtures option, the mockauth_fixtures ini key, or else the bundled users;
    override it to choose in code. (No arguments: every test resolves it, so it stays cheap.)"""
    return None


@pytest.fixture(scope="session")
def mockauth_settings() -> dict[str, Any]:
    """Settings for every test's mock, over the fixture file's ``settings:``; a marker's
    settings win over these. Override it: ``return {"algorithm": "RS256"}``."""
    return {}


@pytest.fixture(scope="session")
def mockauth_base_url(pytestconfig: pytest.Config) -> str:
    """The URL mockauth_requests and mockauth_httpx answer in-process (the mockauth_base_url
    ini key, by default https://auth.example.test)."""
    return pytestconfig.stash[STATE].base_url


@pytest.fixture(scope="session")
def mockauth_target(pytestconfig: pytest.Config) -> str | None:
    """The real deployment given by --mockauth-target, or None when testing the mock."""
    return pytestconfig.stash[STATE].target


class _PerTest:
    """The per-test fixture, registered as a plugin object for each pytest session. Being
    a method, it reaches the session's state without asking for ``request`` or
    ``pytestconfig``: pytest re-resolves every fixture a fixture asks for on every test,
    and those two cost more than the reset itself."""

    def __init__(self, state: State) -> None:
        self.state = state

    @pytest.fixture
    def _mockauth_current(
        self, mockauth_fixtures_path: str | Path | None, mockauth_settings: Mapping[str, Any]
    ) -> Iterator[MockAuth | None]:
        """This test's mock, reset and configured by its marker; None under --mockauth-target."""
        state = self.state
        if state.target is not None:
            yield None
            return
        config = state.test
        settings = {**mockauth_settings, **config.settings} if config.settings else mockauth_settings
        fixtures = state.fixtures if mockauth_fixtures_path is None else mockauth_fixtures_path
        auth = state.mock(fixtures, settings, config.spec or state.spec)
        auth.reset()
        if config is not NO_CONFIG:
            config.apply(auth)
        state.switch.app = auth.app
        yield auth
        # A request that raised inside the app (a bug, answered 500) fails the test that sent it.
        auth.check()


@pytest.fixture
def mockauth(_mockauth_current: MockAuth | None) -> MockAuth:
    """The MockAuth object behind every door, reset to the fixture state before each test:
    ``mockauth.fail(...)``, ``mockauth.clock``, ``mockauth.journal``, ``mockauth.add_user(...)``."""
    if _mockauth_current is None:  # collection already skipped it; a fixture asked for it late
        pytest.skip("needs mock-only control (the mockauth fixture) under --mockauth-target")
    return _mockauth_current


@pytest.fixture
def mockauth_url(pytestconfig: pytest.Config, _mockauth_current: MockAuth | None) -> str:
    """Base URL of a live HTTP server on 127.0.0.1 (one a session, started on first use),
    or the --mockauth-target URL."""
    state = pytestconfig.stash[STATE]
    if state.target is not None:
        return state.target
    return state.live_server().url


@dataclass(frozen=True)
class TargetDoor:
    """What mockauth_requests gives under --mockauth-target: the URL, nothing intercepted."""

    url: str
    calls: tuple[Any, ...] = ()


@pytest.fixture
def mockauth_requests(
    pytestconfig: pytest.Config, _mockauth_current: MockAuth | None, mockauth_base_url: str
) -> Iterator[Interceptor | TargetDoor]:
    """``requests`` calls to ``mockauth_requests.url`` answered in-process through
    ``responses``; other URLs pass through (ini mockauth_passthrough = false: they fail)."""
    state = pytestconfig.stash[STATE]
    if _mockauth_current is None:
        assert state.target is not None
        yield TargetDoor(state.target)
        return
    with _mockauth_current.intercept(mockauth_base_url, passthrough=state.passthrough) as door:
        yield door


@pytest.fixture
def mockauth_httpx(
    _mockauth_current: MockAuth | None, mockauth_base_url: str, mockauth_target: str | None
) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` with ``base_url`` set, answered in-process (a real client of
    --mockauth-target under that option): ``mockauth_httpx.post("/auth/login", data=...)``."""
    try:
        import httpx
    except ImportError:
        pytest.fail("mockauth_httpx needs httpx: pip install 'mockauth[httpx]'", pytrace=False)
    if _mockauth_current is None:
        assert mockauth_target is not None
        client = httpx.Client(base_url=mockauth_target)
    else:
        transport = _mockauth_current.httpx_transport()
        client = httpx.Client(base_url=mockauth_base_url, transport=transport)
    with client:
        yield client


class TokenFactory:
    """``mockauth_token(user=None, *, expired=False, tampered=False, expires_in=None, **claims)``.

    A valid access token for a fixture user (the first one by default, by username or
    email); ``expired=True`` one already expired; ``tampered=True`` one whose payload was
    changed after signing (its ``exp`` pushed an hour later), so its signature no longer
    matches. Under --mockauth-target tokens come from a real login with the fixture
    user's password; expired tokens and extra claims need the mock and skip the test.
    """

    def __init__(
        self, auth: MockAuth | None, target: str | None, fixtures: str | Path | None
    ) -> None:
        self.auth = auth
        self.target = target
        self.fixtures = fixtures

    def __call__(
        self,
        user: str | None = None,
        *,
        expired: bool = False,
        tampered: bool = False,
        expires_in: int | None = None,
        **claims: Any,
    ) -> str:
        if expired and expires_in is not None:
            raise ConfigError("mockauth_token: give expired=True or expires_in, not both")
        if self.auth is None:
            token = self._real_login(user, expired=expired, expires_in=expires_in, claims=claims)
        else:
            username = self._username(user)
            lifetime = -1 if expired else expires_in
            token = self.auth.issue_token(username, expires_in=lifetime, **claims)
        return tamper(token) if tampered else token

    def _username(self, user: str | None) -> str:
        assert self.auth is not None
        if user is None:
            first = next(iter(self.auth.users), None)
            if first is None:
                raise UnknownUserError("mockauth_token: the mock has no users")
            return first
        found = self.auth.find_user(user)
        if found is None:
            raise UnknownUserError(
                f"mockauth_token: no user {user!r} (users: {', '.join(self.auth.users) or 'none'})"
            )
        return found.username

    def _real_login(
        self, user: str | None, *, expired: bool, expires_in: int | None, claims: Mapping[str, Any]
    ) -> str:
        assert self.target is not None
        if expired or expires_in is not None or claims:
            what = "mockauth_token with expired, expires_in or claims"
            pytest.skip(_skip_reason(what, self.target))
        users = load_fixtures(self.fixtures or default_fixtures_path()).users
        found = next((u for u in users if user is None or user in (u.username, u.email)), None)
        if found is None:
            raise UnknownUserError(f"mockauth_token: no fixture user {user!r}")
        form = urllib.parse.urlencode({"username": found.username, "password": found.password})
        request = urllib.request.Request(
            self.target + "/auth/login", data=form.encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            pytest.fail(
                f"mockauth_token: login as {found.username!r} at {self.target} failed: {error}",
                pytrace=False,
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            where = f"{self.target}/auth/login"
            pytest.fail(f"mockauth_token: {where} gave no access_token", pytrace=False)
        return token


def tamper(token: str) -> str:
    """The same JWT with its ``exp`` claim an hour later and the old signature kept."""
    try:
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise ConfigError("tamper: not a JWT (expected header.payload.signature)") from None
    claims["exp"] = int(claims.get("exp", 0)) + 3600
    changed = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{changed.decode().rstrip('=')}.{signature}"


@pytest.fixture
def mockauth_token(
    pytestconfig: pytest.Config,
    _mockauth_current: MockAuth | None,
    mockauth_fixtures_path: str | Path | None,
) -> TokenFactory:
    """A factory of valid, expired and tampered access tokens:
    ``mockauth_token("admin", expired=True)``."""
    state = pytestconfig.stash[STATE]
    fixtures = state.fixtures if mockauth_fixtures_path is None else mockauth_fixtures_path
    return TokenFactory(_mockauth_current, state.target, fixtures)
