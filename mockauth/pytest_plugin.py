"""pytest plugin: a mock auth server as fixtures, loaded through the ``pytest11`` entry point.

Fixtures (function scope unless noted)::

    mockauth                the MockAuth object, reset to the fixture state before each test
    mockauth_url            (session) base URL of the live server, http:// or https://
    mockauth_ca_bundle      (session) the CA certificate to trust for an https:// mockauth_url
    mockauth_requests       ``requests`` calls to ``.url`` answered in-process (responses)
    mockauth_httpx          an ``httpx.Client`` whose base URL is answered in-process
    mockauth_async_httpx    an ``httpx.AsyncClient`` whose base URL is answered in-process
    mockauth_token          factory: valid, expired or tampered tokens for any fixture user
    mockauth_fixtures_path  (session) fixture file or folder; None: the option, ini or bundled
    mockauth_settings       (session) settings for every test's mock, e.g. {"algorithm": "RS256"}
    mockauth_base_url       (session) the URL mockauth_requests and mockauth_httpx answer for
    mockauth_target         (session) the --mockauth-target URL, or None

Marker: ``@pytest.mark.mockauth(mode=..., users=..., clock=..., spec=..., <any setting>=...)``.
Options: ``--mockauth-fixtures``, ``--mockauth-target``, ``--mockauth-spec``, ``--mockauth-tls``
and the ini keys ``mockauth_fixtures``, ``mockauth_target``, ``mockauth_spec``,
``mockauth_base_url``, ``mockauth_passthrough``, ``mockauth_tls``.

The live server is session-scoped (``mockauth_url`` can feed a session fixture that starts
your app once); each test that reaches it resets the mock first, and between tests it
answers from the session's mock in its fixture state. A test whose marker asks for other
TLS (``tls=True`` in a plain session) is given a server of its own scheme through an
indirect parametrization, so it shows ``[https]`` in its id and session fixtures built on
``mockauth_url`` are built again for it.

State lives in ``config.stash`` (and the per-test fixture is a method of a plugin object
registered with each session), so several pytest sessions in one process (pytester) and
xdist workers (one process each, so one server each) never share a mock.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._errors import MockAuthError

# Every pytest run in an environment where mockauth is installed loads this module, so it
# imports nothing of the mock (the app, PyJWT, cryptography, Werkzeug, YAML) until a test
# asks for a fixture, carries the marker or the run gives an option: each of those imports
# what it needs where it needs it. Loading them here cost a run that never uses mockauth
# 0.3 s (`bench/run.py` measures it); tests/test_pytest_plugin.py holds the plugin to this.
if TYPE_CHECKING:
    import httpx

    from ._doors.inprocess import Interceptor
    from ._doors.live import Server
    from ._marker import MarkerConfig
    from ._mock import MockAuth
    from ._settings import Settings
    from ._token_factory import TokenFactory

DEFAULT_BASE_URL = "https://auth.example.test"


TEST_CONFIG: pytest.StashKey[MarkerConfig] = pytest.StashKey()
# The settings that decide what the live server speaks, rather than what the mock says.
TLS_SETTINGS = ("tls", "tls_cert", "tls_key")


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
    root: Path  # what relative paths are relative to: pytest's rootdir
    tls: bool = False  # --mockauth-tls or the mockauth_tls ini key
    mocks: dict[tuple[Any, ...], MockAuth] = field(default_factory=dict)
    test: MarkerConfig | None = None  # the running test's marker, set by pytest_runtest_setup
    switch: _Switch = field(default_factory=_Switch)
    # Live servers by what they speak: (tls, tls_cert, tls_key), all sharing the switch.
    servers: dict[tuple[bool, str | None, str | None], Server] = field(default_factory=dict)

    def mock(
        self, fixtures: str | Path | None, settings: Mapping[str, Any], spec: Path | None
    ) -> MockAuth:
        """One mock per distinct (fixtures, settings, spec), built on first use and reused:
        building one parses the spec and may generate an RSA key, resetting one is cheap.

        A mock that cannot be built (a fixture file or setting given in code is wrong)
        stops the run with one usage error, rather than erroring every test."""
        path = self.root / fixtures if fixtures is not None else None
        key = (path, _frozen(settings), spec)
        auth = self.mocks.get(key)
        if auth is None:
            from ._mock import MockAuth

            try:
                auth = MockAuth.from_fixtures(path, spec=spec, **settings)
            except MockAuthError as error:
                pytest.exit(f"mockauth: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
            self.mocks[key] = auth
        return auth

    def session_settings(self, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """`mockauth_settings`, with ``tls`` on under --mockauth-tls."""
        return {**settings, "tls": True} if self.tls else settings

    def idle_mock(self, fixtures: str | Path | None, settings: Mapping[str, Any]) -> MockAuth:
        """The session's own mock: what the live server answers outside tests."""
        path = self.fixtures if fixtures is None else fixtures
        return self.mock(path, self.session_settings(settings), self.spec)

    def live_server(self, settings: Settings) -> Server:
        """The live server speaking what `settings` say (HTTP, or HTTPS with the local
        CA or the given certificate), started on first use."""
        key = (settings.tls, settings.tls_cert, settings.tls_key)
        server = self.servers.get(key)
        if server is None:
            from ._doors.live import Server
            from ._doors.tls import server_tls

            try:
                tls = server_tls(settings, "127.0.0.1")
            except MockAuthError as error:
                pytest.fail(f"mockauth: {error}", pytrace=False)
            server = self.servers[key] = Server(self.switch, tls=tls).start()
        return server

    def close(self) -> None:
        servers, self.servers = list(self.servers.values()), {}
        for server in servers:
            server.stop()


STATE = pytest.StashKey[State]()


def _frozen(value: Any) -> Any:
    """`value` as a dict key: settings may hold lists (cors_origins=[...])."""
    if isinstance(value, Mapping):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_frozen(item) for item in value)
    return value


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
    group.addoption(
        "--mockauth-tls", action="store_true", default=None,
        help="serve mockauth_url over HTTPS with a certificate from mockauth's local CA "
        "(mockauth_ca_bundle is the CA to trust)",
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
    parser.addini(
        "mockauth_tls", "mockauth: serve mockauth_url over HTTPS (as --mockauth-tls)",
        type="bool", default=False,
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
    # One rule for every relative path (option, ini key, or a fixture overridden in
    # code): relative to pytest's rootdir, wherever pytest is started from.
    root = config.rootpath

    def path(option: str, ini: str) -> Path | None:
        given = config.getoption(option) or str(config.getini(ini) or "")
        return (root / str(given)).resolve() if given else None

    fixtures = path("mockauth_fixtures", "mockauth_fixtures")
    spec = path("mockauth_spec", "mockauth_spec")
    try:
        # Checked now, so a wrong path stops the run once instead of failing every test.
        if fixtures is not None:
            from ._fixtures import load_fixtures

            load_fixtures(fixtures)
        if spec is not None:
            from ._spec import load_spec

            load_spec(spec)
    except MockAuthError as error:
        raise pytest.UsageError(f"mockauth: {error}") from None
    target = config.getoption("mockauth_target") or str(config.getini("mockauth_target")) or None
    if target is not None:
        target = _check_url("--mockauth-target", target)
    base_url = _check_url("mockauth_base_url", str(config.getini("mockauth_base_url")))
    tls = bool(config.getoption("mockauth_tls") or config.getini("mockauth_tls"))
    return State(fixtures, spec, target, base_url, bool(config.getini("mockauth_passthrough")), root, tls)


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
    item.config.stash[STATE].test = item.stash.get(TEST_CONFIG, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()


def _marker_kwargs(node: pytest.Item, name: str) -> dict[str, Any] | None:
    """The keywords of the test's mockauth markers, the closest (the function's) winning;
    None without a marker."""
    markers = list(node.iter_markers("mockauth"))
    if not markers:
        return None
    kwargs: dict[str, Any] = {}
    for marker in reversed(markers):
        if marker.args:
            raise pytest.UsageError(
                f"{name}: @pytest.mark.mockauth: takes keywords only, got {marker.args!r}"
            )
        kwargs.update(marker.kwargs)
    return kwargs


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test whose marker sets tls, tls_cert or tls_key reaches a live server of its own
    kind: the session server fixture is parametrized with them for that test (pytest
    then groups such tests, and rebuilds the session fixtures that depend on it)."""
    if "_mockauth_server" not in metafunc.fixturenames:
        return
    kwargs = _marker_kwargs(metafunc.definition, metafunc.definition.nodeid)
    if not kwargs or not set(TLS_SETTINGS) & set(kwargs) or metafunc.config.stash[STATE].target:
        return
    from ._marker import parse_marker

    try:
        config = parse_marker(kwargs, metafunc.definition.path.parent)
    except MockAuthError:
        return  # reported at the end of collection, with the test's name
    wanted = tuple(sorted((k, v) for k, v in config.settings.items() if k in TLS_SETTINGS))
    https = bool(config.settings.get("tls") or config.settings.get("tls_cert"))
    metafunc.parametrize(
        "_mockauth_server", [wanted], ids=["https" if https else "http"], indirect=True, scope="session"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    for item in items:
        kwargs = _marker_kwargs(item, item.nodeid)
        if kwargs is not None:
            from ._marker import parse_marker

            try:
                item.stash[TEST_CONFIG] = parse_marker(kwargs, item.path.parent)
            except MockAuthError as error:
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.mockauth: {error}") from None
        names = getattr(item, "fixturenames", None)
        if state.target is None:
            # The live server is session-scoped, so asking for it (mockauth_url, or a
            # session fixture built on it) does not reset the mock by itself: a test that
            # reaches it gets the per-test fixture as if it had asked for `mockauth`.
            if isinstance(names, list) and "_mockauth_server" in names and "_mockauth_current" not in names:
                names.insert(0, "_mockauth_current")
            continue
        from ._token_factory import skip_reason

        if kwargs is not None:
            what = "@pytest.mark.mockauth(" + ", ".join(sorted(kwargs)) + ")"
            item.add_marker(pytest.mark.skip(reason=skip_reason(what, state.target)))
        elif "mockauth" in (names or ()):
            what = "the mockauth fixture: modes, clock, journal, users"
            item.add_marker(pytest.mark.skip(reason=skip_reason(what, state.target)))


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
            if mockauth_settings:
                from ._token_factory import skip_reason

                # A real deployment has its own keys, issuer and lifetimes: a test written
                # for the mock's settings would fail there for the wrong reason.
                what = f"mockauth_settings: {', '.join(sorted(mockauth_settings))}"
                pytest.skip(skip_reason(what, state.target))
            yield None
            return
        config = state.test
        settings, spec = state.session_settings(mockauth_settings), state.spec
        if config is not None:
            settings, spec = {**settings, **config.settings}, config.spec or spec
        fixtures = state.fixtures if mockauth_fixtures_path is None else mockauth_fixtures_path
        auth = state.mock(fixtures, settings, spec)
        auth.reset()
        if config is not None:
            config.apply(auth)
        state.switch.app = auth.app
        yield auth
        try:
            # A request that raised inside the app (a bug, answered 500) fails the test that sent it.
            auth.check()
        finally:
            if state.servers:
                # Between tests, a session-scoped client of the live server (an app started
                # once) gets the session's mock in its fixture state, never the modes or
                # users this test left behind.
                idle = state.idle_mock(mockauth_fixtures_path, mockauth_settings)
                idle.reset()
                state.switch.app = idle.app


@pytest.fixture
def mockauth(_mockauth_current: MockAuth | None) -> MockAuth:
    """The MockAuth object behind every door, reset to the fixture state before each test:
    ``mockauth.fail(...)``, ``mockauth.clock``, ``mockauth.journal``, ``mockauth.add_user(...)``."""
    if _mockauth_current is None:  # collection already skipped it; a fixture asked for it late
        pytest.skip("needs mock-only control (the mockauth fixture) under --mockauth-target")
    return _mockauth_current


@pytest.fixture(scope="session")
def _mockauth_server(
    request: pytest.FixtureRequest,
    mockauth_fixtures_path: str | Path | None,
    mockauth_settings: Mapping[str, Any],
) -> Server | None:
    """The live server of the session (None under --mockauth-target). Until a test uses
    the mock, it answers from the session's own mock, so an app started once for the
    session can read the discovery document and the JWKS as it starts."""
    state = request.config.stash[STATE]
    if state.target is not None:
        return None
    idle = state.idle_mock(mockauth_fixtures_path, mockauth_settings)
    if state.switch.app is None:
        state.switch.app = idle.app
    # A marker's tls, tls_cert or tls_key, through pytest_generate_tests.
    wanted: tuple[tuple[str, Any], ...] = getattr(request, "param", ())
    try:
        settings = idle.settings.replace(**dict(wanted))
    except MockAuthError as error:
        pytest.fail(f"mockauth: {error}", pytrace=False)
    return state.live_server(settings)


@pytest.fixture(scope="session")
def mockauth_url(pytestconfig: pytest.Config, _mockauth_server: Server | None) -> str:
    """Base URL of the live server on 127.0.0.1 (one a session, started on first use):
    https:// under --mockauth-tls, the ``tls`` setting or a ``tls=True`` marker; or the
    --mockauth-target URL. Session-scoped: a session fixture may start an app with it."""
    if _mockauth_server is None:
        target = pytestconfig.stash[STATE].target
        assert target is not None
        return target
    return _mockauth_server.url


@pytest.fixture(scope="session")
def mockauth_ca_bundle(pytestconfig: pytest.Config) -> str:
    """The CA certificate (PEM file) an https:// ``mockauth_url`` chains to: mockauth's
    local CA, made on first use. Give it to clients: ``requests.get(url,
    verify=mockauth_ca_bundle)``, ``ssl.create_default_context(cafile=mockauth_ca_bundle)``
    for httpx, ``SSL_CERT_FILE`` for a subprocess. Under --mockauth-target: certifi's
    bundle of public CAs, which ``requests`` trusts by default."""
    if pytestconfig.stash[STATE].target is not None:
        import certifi

        return str(certifi.where())
    from ._doors.tls import local_ca

    try:
        return str(local_ca().cert_path)
    except MockAuthError as error:
        pytest.fail(f"mockauth: {error}", pytrace=False)


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
    _require_httpx("mockauth_httpx")
    import httpx

    if _mockauth_current is None:
        assert mockauth_target is not None
        client = httpx.Client(base_url=mockauth_target)
    else:
        transport = _mockauth_current.httpx_transport(base_url=mockauth_base_url)
        client = httpx.Client(base_url=mockauth_base_url, transport=transport)
    with client:
        yield client


@pytest.fixture
def mockauth_async_httpx(
    _mockauth_current: MockAuth | None, mockauth_base_url: str, mockauth_target: str | None
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with ``base_url`` set, answered in-process, each request
    in a worker thread (a real client of --mockauth-target under that option):
    ``await mockauth_async_httpx.post("/auth/login", data=...)``.

    A plain fixture, not an async one, so it works under pytest-asyncio, anyio's plugin
    or any other: it holds no connection, so there is nothing to close."""
    _require_httpx("mockauth_async_httpx")
    import httpx

    if _mockauth_current is None:
        assert mockauth_target is not None
        # No kept-alive connection outlives a request: none is left for teardown to close
        # outside the test's event loop.
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.AsyncClient(base_url=mockauth_target, limits=limits)
    transport = _mockauth_current.async_httpx_transport(base_url=mockauth_base_url)
    return httpx.AsyncClient(base_url=mockauth_base_url, transport=transport)


def _require_httpx(fixture: str) -> None:
    try:
        import httpx  # noqa: F401
    except ImportError:
        pass
    else:
        return
    # Outside the except block: the report shows this line alone, not the ImportError too.
    pytest.fail(f"{fixture} needs httpx: pip install 'mockauth[httpx]'", pytrace=False)


@pytest.fixture
def mockauth_token(
    pytestconfig: pytest.Config,
    _mockauth_current: MockAuth | None,
    mockauth_fixtures_path: str | Path | None,
) -> TokenFactory:
    """A factory of valid, expired and tampered access tokens:
    ``mockauth_token("admin", expired=True)``."""
    from ._token_factory import TokenFactory

    state = pytestconfig.stash[STATE]
    fixtures = state.fixtures if mockauth_fixtures_path is None else mockauth_fixtures_path
    return TokenFactory(_mockauth_current, state.target, fixtures)
