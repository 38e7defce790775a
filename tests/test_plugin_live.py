"""The plugin's live server as downstream suites use it: session-scoped (an app started
once in a subprocess), over HTTPS by marker, option, ini key or setting, and what it
answers outside tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockauth._doors.tls import local_ca

TLS_MARKER = """
    import ssl
    import httpx, pytest, requests

    FORM = {"username": "user@example.com", "password": "secretpassword"}

    def test_plain(mockauth_url):
        assert mockauth_url.startswith("http://127.0.0.1:")
        assert requests.post(mockauth_url + "/auth/login", data=FORM).status_code == 200

    @pytest.mark.mockauth(tls=True)
    def test_secure(mockauth, mockauth_url, mockauth_ca_bundle):
        assert mockauth_url.startswith("https://127.0.0.1:")
        for url in (mockauth_url, mockauth_url.replace("127.0.0.1", "localhost")):
            login = requests.post(url + "/auth/login", data=FORM, verify=mockauth_ca_bundle)
            assert login.status_code == 200
        mockauth.journal.assert_called("login", user="user@example.com", times=2)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(mockauth_url + "/health")

    @pytest.mark.mockauth(tls=True)
    def test_secure_with_httpx(mockauth_url, mockauth_ca_bundle):
        context = ssl.create_default_context(cafile=mockauth_ca_bundle)
        with httpx.Client(base_url=mockauth_url, verify=context) as http:
            assert http.get("/health").json() == {"status": "ok"}
"""


def test_a_tls_marker_makes_mockauth_url_https(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TLS_MARKER)
    result = pytester.runpytest("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*::test_plain PASSED*", "*::test_secure[[]https[]] PASSED*"])


SECURE_SESSION = """
    import pytest, requests

    def test_https(mockauth_url, mockauth_ca_bundle, mockauth):
        assert mockauth_url.startswith("https://")
        assert mockauth.settings.tls
        assert requests.get(mockauth_url + "/health", verify=mockauth_ca_bundle).status_code == 200

    @pytest.mark.mockauth(tls=False)
    def test_a_marker_can_ask_for_plain_http(mockauth_url):
        assert requests.get(mockauth_url + "/health").status_code == 200
"""


@pytest.mark.parametrize("how", ["option", "ini", "fixture file", "mockauth_settings"])
def test_a_whole_session_over_https(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(SECURE_SESSION)
    args = ["-p", "no:randomly"]
    if how == "option":
        args.append("--mockauth-tls")
    elif how == "ini":
        pytester.makeini("[pytest]\nmockauth_tls = true\n")
    elif how == "fixture file":
        pytester.makefile(".yaml", users="settings: {tls: true}\nusers: [{username: ann, password: annpassword}]\n")
        args += ["--mockauth-fixtures", "users.yaml"]
    else:
        pytester.makeconftest(
            """
            import pytest

            @pytest.fixture(scope="session")
            def mockauth_settings():
                return {"tls": True}
            """
        )
    pytester.runpytest(*args).assert_outcomes(passed=2)


APP = r'''
import http.server, json, sys, urllib.error, urllib.request

auth = sys.argv[1]
# As an app does at start, before any test has run: read the auth server's discovery.
config = json.load(urllib.request.urlopen(auth + "/.well-known/openid-configuration", timeout=10))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # The seed API's /auth/me, found under the discovery document's issuer (the server's URL).
        me = config["issuer"] + "/auth/me"
        ask = urllib.request.Request(me, headers={"Authorization": self.headers["Authorization"]})
        try:
            with urllib.request.urlopen(ask, timeout=10) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
'''

SESSION_CONFTEST = f"""
    import os, pathlib, subprocess, sys
    import pytest

    APP = {APP!r}

    @pytest.fixture(scope="session")
    def app(mockauth_url, mockauth_ca_bundle):
        with open("starts.txt", "a") as starts:
            starts.write(mockauth_url + "\\n")
        env = {{**os.environ, "SSL_CERT_FILE": mockauth_ca_bundle}}
        process = subprocess.Popen([sys.executable, "-c", APP, mockauth_url], stdout=subprocess.PIPE, text=True, env=env)
        port = process.stdout.readline().strip()
        assert port, "the app did not start"
        yield "http://127.0.0.1:" + port
        process.terminate()
        process.wait(10)
        process.stdout.close()
"""

SESSION_TESTS = """
    import pytest, requests

    LIVE = []

    def profile(app, token):
        return requests.get(app + "/profile", headers={"Authorization": "Bearer " + token}, timeout=10)

    def test_the_app_reads_a_profile(app, mockauth_token, mockauth_url):
        LIVE.append(mockauth_url)
        answer = profile(app, mockauth_token("admin"))
        assert (answer.status_code, answer.json()["sub"]) == (200, "admin")

    def test_a_mode_armed_in_a_test_reaches_the_app(app, mockauth, mockauth_token):
        mockauth.fail("unavailable")  # left armed on purpose
        assert profile(app, mockauth_token("admin")).status_code == 503
        mockauth.journal.assert_called("me", user="admin", times=1)

    def test_between_tests_the_live_server_answers_in_the_fixture_state():
        # No mockauth fixture here: nothing reset the mock for this test.
        assert requests.get(LIVE[0] + "/health", timeout=10).status_code == 200

    def test_the_next_test_starts_afresh(app, mockauth_token):
        assert profile(app, mockauth_token()).status_code == 200

    @pytest.mark.mockauth(tls=True)
    def test_an_https_test_gets_the_app_started_again_over_https(app, mockauth_token, mockauth_url):
        assert mockauth_url.startswith("https://")
        assert profile(app, mockauth_token("admin")).status_code == 200
"""


def test_a_session_scoped_app_uses_mockauth_url(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SESSION_CONFTEST)
    pytester.makepyfile(test_session=SESSION_TESTS)
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    starts = (pytester.path / "starts.txt").read_text().split()
    assert [url.split(":")[0] for url in starts] == ["http", "https"]  # once each, https tests grouped


def test_mockauth_url_alone_still_resets_the_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests

        def test_arms_through_the_control_api(mockauth_url):
            armed = requests.post(mockauth_url + "/_mockauth/modes", json={"name": "server_error"})
            assert armed.status_code == 201
            assert requests.get(mockauth_url + "/health").status_code == 500

        def test_next_sees_the_fixture_state(mockauth_url):
            assert requests.get(mockauth_url + "/health").status_code == 200
            assert requests.get(mockauth_url + "/_mockauth/journal").json()["entries"][:-1] == []
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_a_marker_serves_your_own_certificate(pytester: pytest.Pytester, tmp_path: Path) -> None:
    yours = local_ca(tmp_path / "your-ca")
    cert, key = yours.issue(["localhost", "127.0.0.1"])
    (pytester.path / "certs").mkdir()
    (pytester.path / "certs" / "server.pem").write_bytes(cert)
    (pytester.path / "certs" / "server-key.pem").write_bytes(key)
    pytester.makepyfile(
        f"""
        import pytest, requests

        @pytest.mark.mockauth(tls_cert="certs/server.pem", tls_key="certs/server-key.pem")
        def test_own(mockauth_url):
            assert mockauth_url.startswith("https://")
            assert requests.get(mockauth_url + "/health", verify={str(yours.cert_path)!r}).status_code == 200

        @pytest.mark.mockauth(tls_cert="certs/missing.pem", tls_key="certs/server-key.pem")
        def test_missing(mockauth_url):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*mockauth: setting 'tls_cert': *certs/missing.pem: cannot read: No such file*"])


def test_the_ca_bundle_under_a_real_deployment_is_the_public_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import certifi

        def test_bundle(mockauth_ca_bundle):
            assert mockauth_ca_bundle == certifi.where()
        """
    )
    pytester.runpytest("--mockauth-target", "https://auth.example.test").assert_outcomes(passed=1)


def test_help_lists_the_tls_option_and_ini_key(pytester: pytest.Pytester) -> None:
    text = pytester.runpytest("--help").stdout.str()
    assert "--mockauth-tls" in text
    assert "mockauth_tls (bool)" in text
