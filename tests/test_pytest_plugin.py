"""The pytest plugin as a downstream project uses it: suites written to pytester's temporary
folder and run with the plugin loaded from its ``pytest11`` entry point, no conftest."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import end_process

from mockauth import MockAuth, Settings
from mockauth._marker import MARKER_KEYWORDS, marker_keywords
from mockauth._token_factory import tamper

EXAMPLES = Path(__file__).parent / "examples"
README = Path(__file__).parent.parent / "README.md"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second mockauth process, standing in for a real deployment. Its output goes to a
    file, not a pipe, so its request log can never fill a buffer and stall it."""
    log = tmp_path_factory.mktemp("target") / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mockauth", "serve", "--port", "0"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        match = None
        while match is None and process.poll() is None and time.monotonic() < deadline:
            match = re.search(r"serving (http://127\.0\.0\.1:\d+)", log.read_text())
            time.sleep(0.05)
        assert match, f"mockauth serve did not start: {log.read_text()!r}"
        yield match.group(1)
    finally:
        end_process(process)


def copy_examples(pytester: pytest.Pytester) -> None:
    """The example files, to run them as a downstream project does. Run them with
    --import-mode=importlib: this session imported the originals under the same names."""
    for file in EXAMPLES.rglob("*.py"):
        destination = pytester.path / file.relative_to(EXAMPLES)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(file.read_text())


# -- the bar: install, write one test, run ---------------------------------------------

BAR = """
    import requests

    def test_login(mockauth_requests):
        response = requests.post(
            mockauth_requests.url + "/auth/login",
            data={"username": "user@example.com", "password": "secretpassword"},
        )
        assert response.status_code == 200
        assert response.json()["access_token"].count(".") == 2
"""


def test_one_file_no_conftest_passes_in_a_fresh_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bar=BAR)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_loading_the_plugin_imports_nothing_heavy_until_a_test_uses_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every pytest run in an environment with mockauth installed loads the plugin. Only
    # the plugin is loaded here (other installed plugins import some of these themselves):
    # a test that uses no mockauth fixture runs after collection and setup with none of
    # them imported; the next test asks for the mock, and then they are there.
    pytester.makepyfile(test_cost="""
        import sys

        HEAVY = {
            "mockauth._mock", "mockauth._app", "mockauth._state", "mockauth._doors",
            "mockauth._contract", "mockauth._fixtures", "mockauth._marker",
            "mockauth._token_factory", "mockauth._spec", "jwt", "cryptography", "werkzeug",
            "yaml", "requests", "responses", "httpx", "schemathesis",
        }

        def test_without_mockauth():
            assert HEAVY & set(sys.modules) == set()

        def test_with_mockauth(mockauth):
            assert {"mockauth._mock", "jwt", "werkzeug"} <= set(sys.modules)
    """)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "mockauth.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_the_same_file_passes_against_a_separate_mockauth_serve(
    pytester: pytest.Pytester, target: str
) -> None:
    pytester.makepyfile(test_bar=BAR)
    result = pytester.runpytest_subprocess("--mockauth-target", target)
    result.assert_outcomes(passed=1)


def test_help_lists_options_and_ini_keys(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for name in ("--mockauth-fixtures=PATH", "--mockauth-target=URL", "--mockauth-spec=PATH"):
        assert name in text
    for key in ("mockauth_fixtures", "mockauth_target", "mockauth_spec", "mockauth_base_url",
                "mockauth_passthrough"):
        assert key in text


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mockauth(mode=..., users=..., clock=*"])


# -- the documented examples -------------------------------------------------------------


def readme_blocks() -> dict[str, str]:
    """The README's python code blocks that name an example file on their first line."""
    text = README.read_text()
    blocks = re.findall(r"```python\n(# (tests/examples/\S+\.py)\n.*?)```", text, re.S)
    return {path: body for body, path in blocks}


def test_readme_shows_every_example_verbatim() -> None:
    blocks = readme_blocks()
    files = {str(f.relative_to(EXAMPLES.parent.parent)): f for f in EXAMPLES.rglob("*.py")}
    assert sorted(blocks) == sorted(files)
    for path, file in files.items():
        assert blocks[path] == file.read_text(), f"README.md and {path} differ"


def test_examples_pass_in_a_downstream_project(pytester: pytest.Pytester) -> None:
    copy_examples(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--import-mode=importlib")
    result.assert_outcomes(passed=27)


def test_examples_against_a_real_deployment_skip_mock_only_tests(
    pytester: pytest.Pytester, target: str
) -> None:
    copy_examples(pytester)
    result = pytester.runpytest("-rs", "--import-mode=importlib", "--mockauth-target", target)
    # Mock-only: the 4 tests of the mockauth fixture, the 4 with a marker, the 2 expired
    # tokens, the 2 that read a one-time code or change a password, the 3 OAuth examples
    # that drive the mock's clock or its login page, and the RS256 test, whose
    # mockauth_settings only the mock can honour.
    result.assert_outcomes(passed=11, skipped=16)
    result.stdout.fnmatch_lines([
        "SKIPPED*test_example_marker.py*needs mock-only control (@pytest.mark.mockauth(mode))*",
        "SKIPPED*test_example_mock_control.py*needs mock-only control (the mockauth fixture*"
        "--mockauth-target http://127.0.0.1:*is a real deployment*",
        "SKIPPED*test_example_rs256.py*needs mock-only control (mockauth_settings: algorithm, issuer)*",
        "SKIPPED [[]2[]]*needs mock-only control (mockauth_token with expired*",
    ], consecutive=False)


# -- fixtures, passing and failing -------------------------------------------------------


def test_a_failing_downstream_test_fails_with_the_mocks_answer(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_expects_success_for_a_locked_user(mockauth_requests):
            response = requests.post(
                mockauth_requests.url + "/auth/login",
                data={"username": "locked@example.com", "password": "lockedpassword"},
            )
            assert response.status_code == 200, response.json()["error"]

        def test_journal_expectation_not_met(mockauth):
            mockauth.journal.assert_called("login")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*AssertionError: account_locked*",
        "*JournalAssertionError: expected login to be called; it never was (the journal is empty)*",
    ])


def test_state_never_leaks_into_the_next_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_changes_everything(mockauth, mockauth_httpx):
            mockauth.fail("server_error")
            mockauth.clock.advance(seconds=10_000)
            mockauth.clock.freeze()
            mockauth.add_user({"username": "ann", "password": "pw"})
            mockauth.remove_user("admin")
            assert mockauth_httpx.get("/health").status_code == 500

        @pytest.mark.mockauth(users=[{"username": "bob", "password": "pw"}], mode="unavailable")
        def test_marker_changes_more(mockauth):
            assert list(mockauth.users) == ["bob"]

        def test_sees_the_fixture_state(mockauth, mockauth_httpx):
            # Only the mode slow@example.com carries in the fixture file.
            assert [a.mode.name for a in mockauth.modes.armed()] == ["slow"]
            assert not mockauth.clock.frozen and abs(mockauth.clock.offset) < 60
            assert "admin" in mockauth.users
            assert "ann" not in mockauth.users and "bob" not in mockauth.users
            assert mockauth.journal.count() == 0
            assert mockauth_httpx.get("/health").status_code == 200
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_fixture_users_and_ini_settings(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        users="""
        settings:
          issuer: https://login.example.org
        users:
          - username: carol
            password: carolpassword
            claims: {roles: [editor]}
        """,
    )
    pytester.makeini(
        """
        [pytest]
        mockauth_fixtures = users.yaml
        mockauth_base_url = https://login.example.org/
        mockauth_passthrough = false
        """
    )
    pytester.makepyfile(
        """
        import jwt, pytest, requests

        def test_custom_users_and_base_url(mockauth_requests, mockauth_token):
            assert mockauth_requests.url == "https://login.example.org"
            login = requests.post(
                "https://login.example.org/auth/login",
                data={"username": "carol", "password": "carolpassword"},
            )
            claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
            assert (claims["iss"], claims["roles"]) == ("https://login.example.org", ["editor"])
            first = jwt.decode(mockauth_token(), options={"verify_signature": False})
            assert first["sub"] == "carol"

        def test_no_passthrough(mockauth_requests):
            with pytest.raises(requests.ConnectionError):
                requests.get("http://127.0.0.1:9/elsewhere")
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_other_urls_pass_through_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_both_doors(mockauth, mockauth_requests, mockauth_url):
            form = {"username": "admin", "password": "adminpassword"}
            assert requests.post(mockauth_url + "/auth/login", data=form).status_code == 200
            assert requests.post(mockauth_requests.url + "/auth/login", data=form).status_code == 200
            assert [call.request.url for call in mockauth_requests.calls] == [
                "https://auth.example.test/auth/login"
            ]
            assert mockauth.journal.count("login") == 2
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_fixtures_option_and_overriding_fixtures_in_conftest(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("auth-fixtures")
    (folder / "team.yaml").write_text("users:\n  - {username: dave, password: davepassword}\n")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mockauth_base_url():
            return "http://auth.internal"

        @pytest.fixture(scope="session")
        def mockauth_settings():
            return {"audience": "my-api"}
        """
    )
    pytester.makepyfile(
        """
        import jwt

        def test_overrides(mockauth, mockauth_httpx):
            assert mockauth.fixtures_path.name == "auth-fixtures"
            assert str(mockauth_httpx.base_url) == "http://auth.internal"
            form = {"username": "dave", "password": "davepassword"}
            login = mockauth_httpx.post("/auth/login", data=form)
            claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
            assert claims["aud"] == "my-api"
        """
    )
    pytester.runpytest("--mockauth-fixtures", "auth-fixtures").assert_outcomes(passed=1)


def test_spec_option_serves_the_given_document(pytester: pytest.Pytester) -> None:
    from mockauth import default_spec_path

    spec = default_spec_path().read_text()
    pytester.path.joinpath("api.yaml").write_text(spec.replace("title:", "title: Team copy of", 1))
    pytester.makepyfile(
        """
        def test_spec(mockauth_httpx):
            assert "Team copy of" in mockauth_httpx.get("/openapi.yaml").text
        """
    )
    pytester.runpytest("--mockauth-spec", "api.yaml").assert_outcomes(passed=1)


def test_live_server_serves_each_tests_own_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest, requests

        FORM = {"username": "admin", "password": "adminpassword"}
        urls = set()

        @pytest.mark.mockauth(access_token_lifetime=60)
        def test_short_tokens(mockauth_url):
            urls.add(mockauth_url)
            assert requests.post(mockauth_url + "/auth/login", data=FORM).json()["expires_in"] == 60

        def test_default_tokens(mockauth_url, mockauth):
            urls.add(mockauth_url)
            login = requests.post(mockauth_url + "/auth/login", data=FORM)
            assert login.json()["expires_in"] == 900
            mockauth.journal.assert_called("login", user="admin", times=1)

        def test_one_server_a_session():
            assert len(urls) == 1
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_an_error_inside_the_server_fails_the_test_that_caused_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_triggers_a_bug(mockauth, mockauth_url):
            def broken(*args, **kwargs):
                raise RuntimeError("token store is broken")
            mockauth.tokens.token_response = broken
            login = requests.post(
                mockauth_url + "/auth/login",
                data={"username": "admin", "password": "adminpassword"},
            )
            assert login.status_code == 500
            del mockauth.tokens.token_response

        def test_next_one_is_fine(mockauth_url):
            login = requests.post(
                mockauth_url + "/auth/login",
                data={"username": "admin", "password": "adminpassword"},
            )
            assert login.status_code == 200
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_triggers_a_bug*",
        "*ServerError: a request failed inside mockauth: RuntimeError('token store is broken')*",
    ])


# -- the marker --------------------------------------------------------------------------


def test_marker_keywords_are_the_python_apis() -> None:
    init = inspect.signature(MockAuth).parameters
    own = {name for name, p in init.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    assert own == {"users", "clients", "spec"}
    assert "mode" in inspect.signature(MockAuth.fail).parameters
    assert hasattr(MockAuth.from_fixtures(), "clock")
    assert set(marker_keywords()) == own | {"mode", "clock"} | set(Settings.names())
    assert set(MARKER_KEYWORDS) == own | {"mode", "clock"}


def test_marker_on_module_and_function(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.mockauth(access_token_lifetime=120, mode="invalid_token")

        @pytest.mark.mockauth(access_token_lifetime=30)
        def test_function_wins(mockauth):
            assert mockauth.settings.access_token_lifetime == 30
            armed = [a.mode.name for a in mockauth.modes.armed() if a.source == "marker"]
            assert armed == ["invalid_token"]

        def test_module_applies(mockauth):
            assert mockauth.settings.access_token_lifetime == 120

        @pytest.mark.mockauth(clock={"set": 1_000_000, "advance": 5, "freeze": True})
        def test_clock_actions(mockauth):
            assert mockauth.clock.now() == 1_000_005
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("colour='red'", "unknown keyword 'colour' (keywords: access_token_lifetime, *"),
        ("'rate_limited'", "takes keywords only*"),
        ("mode='nope'", "unknown mode 'nope'*"),
        ("mode='rate_limited:operation=fly'", "*unknown operation 'fly'*"),
        ("mode=3", "mode: expected a mode like*"),
        ("clock='noon'", "clock: expected a Unix time or a mapping*"),
        ("clock={'rewind': 5}", "clock: unknown action 'rewind'*"),
        ("users=[{'username': 'x'}]", "users: *password*"),
        ("users='ann'", "users: expected a list*"),
        ("algorithm='none'", "setting 'algorithm': 'none' is not one of*"),
        ("access_token_lifetime='soon'", "setting 'access_token_lifetime': expected int*"),
        ("spec='missing.yaml'", "*missing.yaml: cannot read the OpenAPI document*"),
    ],
)
def test_bad_marker_is_a_usage_error(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.mockauth({marker})
        def test_it(mockauth):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *test_it: @pytest.mark.mockauth: {message}"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mockauth-fixtures", "nowhere"], "ERROR: mockauth: *nowhere: no such file or folder"),
        (["--mockauth-spec", "nowhere.yaml"], "ERROR: mockauth: *nowhere.yaml: cannot read*"),
        (
            ["--mockauth-target", "auth.example.com"],
            "ERROR: mockauth: --mockauth-target: expected an http:// or https:// URL, "
            "got 'auth.example.com'",
        ),
    ],
)
def test_bad_option_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_it(mockauth): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_list_valued_settings_from_the_marker_and_the_session(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mockauth_settings():
            return {"cors_origins": ["https://app.example.test"], "allowed_hosts": ["mock.test"]}
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_from_the_session(mockauth):
            assert mockauth.settings.cors_origins == ("https://app.example.test",)

        @pytest.mark.mockauth(cors_origins=["https://a.example.test", "https://b.example.test"])
        def test_from_the_marker(mockauth, mockauth_httpx):
            assert mockauth.settings.cors_origins == ("https://a.example.test", "https://b.example.test")
            answer = mockauth_httpx.get("/health", headers={"Origin": "https://b.example.test"})
            assert answer.headers["Access-Control-Allow-Origin"] == "https://b.example.test"

        @pytest.mark.mockauth(cors_origins=["https://a.example.test", "https://b.example.test"])
        def test_the_same_marker_again(mockauth):
            assert len(mockauth.settings.cors_origins) == 2
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_a_base_url_with_a_path_mounts_the_mock_there(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockauth_base_url = http://localhost:8000/api/\n")
    pytester.makepyfile(
        """
        import requests

        def test_requests(mockauth_requests):
            assert mockauth_requests.url == "http://localhost:8000/api"
            form = {"username": "admin", "password": "adminpassword"}
            assert requests.post(mockauth_requests.url + "/auth/login", data=form).status_code == 200
            config = requests.get(mockauth_requests.url + "/.well-known/openid-configuration").json()
            assert config["token_endpoint"] == "http://localhost:8000/api/oauth/token"

        def test_httpx(mockauth_httpx):
            form = {"username": "admin", "password": "adminpassword"}
            assert mockauth_httpx.post("/auth/login", data=form).status_code == 200
            assert mockauth_httpx.get("http://localhost:8000/auth/login").status_code == 404
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_misspelled_mode_scope_names_the_scope_keys(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mockauth(mode="rate_limited:operatoin=login")
        def test_it(mockauth):
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*unknown key 'operatoin' (scope keys: operation, user, times, probability, seed; "
        "options of rate_limited: retry_after)*"
    ])


def test_relative_fixture_paths_are_relative_to_the_rootdir_however_given(pytester: pytest.Pytester) -> None:
    (pytester.mkdir("auth") / "users.yaml").write_text("users:\n  - {username: dave, password: pw}\n")
    pytester.makeini("[pytest]\n")
    tests = pytester.mkdir("tests")
    (tests / "test_who.py").write_text("def test_who(mockauth):\n    assert list(mockauth.users) == ['dave']\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tests)  # started from elsewhere than the rootdir
        pytester.runpytest("--rootdir", str(pytester.path), "--mockauth-fixtures", "auth/users.yaml").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nmockauth_fixtures = auth/users.yaml\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tests)
        pytester.runpytest().assert_outcomes(passed=1)
    pytester.makeini("[pytest]\n")
    (tests / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef mockauth_fixtures_path():\n    return 'auth/users.yaml'\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tests)
        pytester.runpytest("--rootdir", str(pytester.path)).assert_outcomes(passed=1)


def test_a_bad_fixture_path_given_in_code_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef mockauth_fixtures_path():\n    return 'nowhere.yaml'\n"
    )
    pytester.makepyfile("def test_one(mockauth): pass\ndef test_two(mockauth): pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("nowhere.yaml: no such file or folder") == 1
    assert "ERROR at setup" not in output


def test_without_httpx_its_fixtures_say_which_extra_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_me(mockauth_httpx):\n    pass\n")
    monkeypatch.setitem(sys.modules, "httpx", None)  # as after a plain `pip install mockauth pytest`
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.re_match_lines([r"^mockauth_httpx needs httpx: pip install 'mockauth\[httpx\]'$"])
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_bad_fixture_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", users="users:\n  - {username: erin}\n")
    pytester.makepyfile("def test_it(mockauth): pass")
    result = pytester.runpytest("--mockauth-fixtures", "users.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mockauth: *users.yaml: users[[]0[]] (erin): *password*"])


# -- tokens ------------------------------------------------------------------------------


def test_token_factory_errors_and_tamper(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from mockauth import ConfigError, UnknownUserError

        def test_unknown_user(mockauth_token):
            with pytest.raises(UnknownUserError, match="no user 'zed'"):
                mockauth_token("zed")

        def test_expired_and_expires_in(mockauth_token):
            with pytest.raises(ConfigError, match="not both"):
                mockauth_token(expired=True, expires_in=5)

        def test_by_email_with_claims(mockauth, mockauth_token):
            token = mockauth_token("admin@example.com", scope="read")
            assert mockauth.tokens.verify(token)["scope"] == "read"
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_tamper_keeps_the_signature() -> None:
    auth = MockAuth.from_fixtures()
    token = auth.issue_token("admin")
    changed = tamper(token)
    assert changed.split(".")[::2] == token.split(".")[::2]
    assert changed.split(".")[1] != token.split(".")[1]


# -- the same downstream suites through every door ---------------------------------------

REQUESTS_CLIENT = """
    import requests

    class AuthClient:
        def __init__(self, base_url):
            self.base_url = base_url
            self.session = requests.Session()

        def login(self, username, password):
            response = self.session.post(
                self.base_url + "/auth/login", data={"username": username, "password": password}
            )
            response.raise_for_status()
            self.session.headers["Authorization"] = "Bearer " + response.json()["access_token"]
            return response.json()

        def me(self):
            return self.session.get(self.base_url + "/auth/me").json()
"""

HTTPX_CLIENT = """
    class AuthClient:
        def __init__(self, http):
            self.http = http

        def login(self, username, password):
            form = {"username": username, "password": password}
            response = self.http.post("/auth/login", data=form)
            response.raise_for_status()
            self.http.headers["Authorization"] = "Bearer " + response.json()["access_token"]
            return response.json()

        def me(self):
            return self.http.get("/auth/me").json()
"""

CLIENT_TESTS = """
    import pytest

    def test_login_and_me(client):
        client.login("user@example.com", "secretpassword")
        assert client.me()["sub"] == "user@example.com"

    def test_wrong_password_raises(client):
        with pytest.raises(Exception, match="401"):
            client.login("admin", "nope")
"""

CONFTESTS = {
    "requests": """
        import pytest
        from authclient import AuthClient

        @pytest.fixture(params=["mockauth_requests", "mockauth_url"])
        def client(request):
            door = request.getfixturevalue(request.param)
            return AuthClient(door if isinstance(door, str) else door.url)
    """,
    "httpx": """
        import httpx, pytest
        from authclient import AuthClient

        @pytest.fixture(params=["mockauth_httpx", "mockauth_url"])
        def client(request):
            door = request.getfixturevalue(request.param)
            if isinstance(door, str):
                door = httpx.Client(base_url=door)
                request.addfinalizer(door.close)
            return AuthClient(door)
    """,
}


@pytest.mark.parametrize("library", ["requests", "httpx"])
def test_a_client_library_suite_runs_unchanged_through_each_door(
    pytester: pytest.Pytester, target: str, library: str
) -> None:
    pytester.makepyfile(authclient=REQUESTS_CLIENT if library == "requests" else HTTPX_CLIENT)
    pytester.makeconftest(CONFTESTS[library])
    pytester.makepyfile(test_client=CLIENT_TESTS)
    pytester.syspathinsert()
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)
    against = pytester.runpytest("-p", "no:cacheprovider", "--mockauth-target", target)
    against.assert_outcomes(passed=4)


# -- pytest-xdist ------------------------------------------------------------------------


def test_each_xdist_worker_has_its_own_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, pytest, requests

        @pytest.mark.parametrize("n", range(8))
        def test_isolated(n, mockauth, mockauth_url, tmp_path_factory):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            shared = tmp_path_factory.getbasetemp().parent / f"url-{worker}"
            shared.write_text(mockauth_url)
            assert mockauth.journal.count() == 0 and not mockauth.modes.armed()[1:]
            mockauth.fail("server_error", operation="health")
            assert requests.get(mockauth_url + "/health").status_code == 500
            assert mockauth.journal.count() == 1
        """
    )
    # Three fresh interpreters: leave out the schemathesis and hypothesis plugins this
    # environment also installs, which only cost start-up time here.
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest"
    )
    result.assert_outcomes(passed=8)
    urls = {f.read_text() for f in pytester.path.parent.rglob("url-gw*")}
    assert len(urls) == 2

