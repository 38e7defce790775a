"""The contract runner: the mock passes its own contract, deliberately broken auth servers
at paths of their own fail it, each by the check named for its bug, and a correct one
passes; the runner's own options, report and faces."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jwt
import pytest
from contract_support import details, failed, mockauth_cli, table_rows
from werkzeug.wrappers import Request, Response

from mockauth import CheckResult, Contract, ContractError, MockAuth, Server
from mockauth._contract import AUTH_CHECK_NAMES, SCHEMA_CHECKS

USER, PASSWORD = "user@example.com", "secretpassword"
SECRET = "tiny-auth-secret-for-the-contract-tests-only"
# Every operation of openapi.yaml but the spec document (mock-only, never part of a run).
ALL_OPERATIONS = "login,refresh,me,logout,jwks,openid_configuration,health"


# -- a small auth server, correct unless told which one bug to have ------------------------

# Where TinyAuth serves each operation unless told otherwise: not where openapi.yaml puts them.
PATHS = {"login": "/v1/session", "refresh": "/v1/session/renew", "me": "/v1/whoami", "logout": "/v1/session/end"}
METHODS = {"login": "POST", "refresh": "POST", "me": "GET", "logout": "POST"}
PATH_FLAGS = [arg for op, path in PATHS.items() for arg in ("--path", f"{op}={path}")]


class TinyAuth:
    """A second, independent implementation of the auth API (not mockauth), with `bug`
    naming the one thing it gets wrong. It does not serve /openapi.yaml."""

    def __init__(
        self, bug: str | None = None, lifetime: int = 900, paths: dict[str, str] | None = None,
        token_type: str = "bearer",
    ) -> None:
        self.bug = bug
        self.lifetime = lifetime
        self.token_type = token_type
        self.routes = {path: op for op, path in (paths or PATHS).items()}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.revoked: set[str] = set()  # jti and family ids

    def error(self, status: int, code: str, description: str, bearer: bool = False) -> Response:
        body = {"message": description} if self.bug == "error_without_error" else {
            "error": code, "error_description": description
        }
        response = Response(json.dumps(body), status, content_type="application/json")
        if bearer and self.bug != "no_www_authenticate":
            response.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{description}"'
        return response

    def tokens(self, user: str, family: str) -> Response:
        now = int(time.time())
        jti = secrets.token_hex(8)
        claims: dict[str, Any] = {"sub": user, "iat": now, "exp": now + self.lifetime, "jti": jti, "fam": family}
        if self.bug == "no_exp":
            del claims["exp"]
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens[refresh] = {"user": user, "family": family, "used": False}
        body = {
            "access_token": jwt.encode(claims, SECRET, algorithm="HS256"),
            "token_type": "mac" if self.bug == "token_type" else self.token_type,
            "expires_in": self.lifetime,
            "refresh_token": refresh,
        }
        response = Response(json.dumps(body), 200, content_type="application/json")
        if self.bug != "no_no_store":
            response.headers["Cache-Control"] = "no-store"
        return response

    def claims(self, request: Request) -> dict[str, Any] | Response:
        header = request.headers.get("Authorization", "")
        if not header:
            return self.error(401, "invalid_token", "No bearer token.", bearer=True)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self.error(401, "invalid_token", "Malformed Authorization header.", bearer=True)
        try:
            alg = jwt.get_unverified_header(token).get("alg", "")
            if self.bug == "alg_none" and alg.lower() == "none":
                claims = jwt.decode(token, options={"verify_signature": False})
            elif self.bug == "no_signature_check":
                claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": True})
            else:
                claims = jwt.decode(
                    token, SECRET, algorithms=["HS256"],
                    options={"verify_exp": self.bug != "accepts_expired"},
                )
        except jwt.PyJWTError:
            return self.error(401, "invalid_token", "The token is invalid.", bearer=True)
        if claims.get("jti") in self.revoked or claims.get("fam") in self.revoked:
            return self.error(401, "invalid_token", "The token was revoked.", bearer=True)
        return claims

    def params(self, request: Request, *names: str) -> dict[str, str] | Response:
        """The named fields of a form or JSON body, each a non-empty string."""
        if request.mimetype == "application/x-www-form-urlencoded":
            body: Any = request.form
        elif request.mimetype == "application/json":
            body = request.get_json(silent=True)
        else:
            return self.error(415, "unsupported_media_type", "Send a form or JSON.")
        if not hasattr(body, "get") or not all(isinstance(body.get(n), str) and body.get(n) for n in names):
            return self.error(400, "invalid_request", f"{' and '.join(names)} are required strings.")
        return {name: body.get(name) for name in names}

    @Request.application  # type: ignore[arg-type]
    def __call__(self, request: Request) -> Response:
        operation = self.routes.get(request.path)
        if operation is None:
            return self.error(404, "not_found", f"No {request.path} here.")
        if request.method != METHODS[operation]:
            response = self.error(405, "method_not_allowed", f"{request.path} takes {METHODS[operation]}.")
            response.headers["Allow"] = METHODS[operation]
            return response
        if operation == "login":
            params = self.params(request, "username", "password")
            if isinstance(params, Response):
                return params
            username, password = params["username"], params["password"]
            if self.bug == "non_ascii_500" and not username.isascii():
                return Response("Internal Server Error", 500)
            known = username == USER
            if known and (password == PASSWORD or self.bug == "any_password"):
                return self.tokens(USER, secrets.token_hex(8))
            if self.bug == "user_enumeration":
                text = "Wrong password." if known else "No such user."
                return self.error(401, "invalid_credentials", text)
            return self.error(401, "invalid_credentials", "The username or password is incorrect.")
        if operation == "refresh":
            params = self.params(request, "refresh_token")
            if isinstance(params, Response):
                return params
            record = self.refresh_tokens.get(params["refresh_token"])
            if record is None or record["used"] or record["family"] in self.revoked:
                return self.error(401, "invalid_token", "The refresh token is invalid.")
            if self.bug == "refresh_no_rotate":
                response = self.tokens(record["user"], record["family"])
                body = json.loads(response.get_data())
                del self.refresh_tokens[body["refresh_token"]]
                body["refresh_token"] = params["refresh_token"]
                response.set_data(json.dumps(body))
                return response
            record["used"] = self.bug != "refresh_reuse"
            return self.tokens(record["user"], record["family"])
        claims = self.claims(request)
        if isinstance(claims, Response):
            return claims
        if operation == "me":
            return Response(json.dumps({"sub": claims["sub"]}), 200, content_type="application/json")
        if self.bug != "logout_noop":
            self.revoked.update({claims["jti"], claims["fam"]})
        return Response(status=204)


def expired_token() -> str:
    now = int(time.time())
    claims = {"sub": USER, "iat": now - 1000, "exp": now - 100, "jti": "expired", "fam": "expired"}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# -- the mock passes its own contract ----------------------------------------------------


def test_the_mock_passes_its_own_contract(tmp_path: Path) -> None:
    auth = MockAuth.from_fixtures()
    junit = tmp_path / "contract.xml"
    with Server(auth.app) as server:
        result = mockauth_cli(
            "contract", server.url, "--username", USER, "--password", PASSWORD, "--operations", ALL_OPERATIONS,
            "--max-examples", "10", "--seed", "1", "--junit-xml", str(junit),
            "--expired-token", auth.issue_token(USER, expires_in=-60),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not auth.app.errors  # no request raised inside the mock
    rows = table_rows(result.stdout)
    assert set(rows) == {*AUTH_CHECK_NAMES, *SCHEMA_CHECKS}
    assert failed(result.stdout) == []
    for name, (status, text) in rows.items():
        assert status in ("PASSED", "SKIPPED"), name
        if status == "SKIPPED":  # a skip says why
            assert len(text) > 20, name
    assert all(rows[name][0] == "PASSED" for name in AUTH_CHECK_NAMES)
    for phase in ("examples", "coverage", "fuzzing", "stateful"):  # cases per phase, in the report too
        assert any(line.startswith(f"  {phase} ") and " cases in " in line for line in result.stdout.splitlines())
    assert "conforms: " in result.stdout
    # The stateful phase followed login -> me / refresh / logout with real tokens; the
    # mock-only operations (the spec document, the control API) were never called.
    answered = {(entry.operation, entry.status) for entry in auth.journal.entries()}
    assert {("login", 200), ("me", 200), ("refresh", 200), ("logout", 204), ("jwks", 200)} <= answered
    called = {entry.operation for entry in auth.journal.entries()}
    assert "openapi" not in called and not any(str(op).startswith(("control_", "dashboard")) for op in called)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(rows)
    assert {case.get("name") for case in suite.iter("testcase")} == set(rows)


def test_an_unbroken_independent_server_passes_every_auth_check() -> None:
    # The control for the broken servers below: without its bug, TinyAuth is clean.
    with Server(TinyAuth()) as server:
        report = Contract(
            server.url, username=USER, password=PASSWORD, expired_token=expired_token(), paths=PATHS
        ).run(only=AUTH_CHECK_NAMES)
    assert [(r.name, r.reason) for r in report.results if r.status != "passed"] == []


def test_a_correct_server_that_does_not_serve_its_spec_passes_the_whole_contract() -> None:
    # TinyAuth serves no /openapi.yaml, no health, no discovery: the default run holds it to
    # the auth operations only, schemathesis phases included, at its own paths.
    with Server(TinyAuth()) as server:
        result = mockauth_cli(
            "contract", server.url, "--username", USER, *PATH_FLAGS, "--max-examples", "5", "--seed", "3",
            "--expired-token", expired_token(), env={"MOCKAUTH_CONTRACT_PASSWORD": PASSWORD},
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert failed(result.stdout) == []
    assert "/openapi.yaml" not in result.stdout
    assert "  health                 GET /health                          not offered (--operations)" in result.stdout
    assert "conforms: " in result.stdout


def test_a_missing_endpoint_is_one_finding_at_the_top_not_a_cascade() -> None:
    # TinyAuth without logout, held to the default operations (logout among them).
    with Server(TinyAuth(paths={op: path for op, path in PATHS.items() if op != "logout"})) as server:
        url = server.url
        result = mockauth_cli(
            "contract", url, "--username", USER, "--password", PASSWORD, *PATH_FLAGS, "--max-examples", "5",
            "--operations", "login,refresh,me,logout",
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert failed(result.stdout) == ["logout_offered"]  # nothing else fails for it
    assert "  logout                 POST /v1/session/end                 NOT THERE" in result.stdout
    assert details(result.stdout, "logout_offered").startswith(
        "POST /v1/session/end answered 404 to a bare request: not offered? pass --operations without logout, "
        "or --path logout=PATH if it lives elsewhere"
    )
    assert table_rows(result.stdout)["logout_revokes"] == ("SKIPPED", "needs logout, which is not there (see logout_offered)")
    assert "/v1/session/end" not in result.stdout.split("\nFAILED logout_offered")[0].split("auth checks:")[1]
    assert result.stdout.index("FAILED logout_offered") < result.stdout.index("does NOT conform")


def test_a_host_that_answers_404_everywhere_proves_nothing_and_fails() -> None:
    def nothing_here(environ: dict[str, Any], start_response: Any) -> Any:
        body = '{"error": "not_found", "error_description": "Nothing here."}'
        return Response(body, 404, content_type="application/json")(environ, start_response)

    with Server(nothing_here) as server:
        report = Contract(
            server.url, username=USER, password=PASSWORD, operations=["login", "refresh", "me", "logout"]
        ).run()
    assert sorted(r.name for r in report.failed) == ["login_offered", "logout_offered", "me_offered", "refresh_offered"]
    assert not any(r.status == "passed" for r in report.results)  # no_user_enumeration, non_ascii_username included
    assert report.result("no_user_enumeration").reason == "needs login, which is not there (see login_offered)"
    assert report.result("not_a_server_error").reason == "no operation offered is there (see the *_offered findings)"
    assert report.exit_code == 1


# -- broken servers fail, each by the check named for its bug ------------------------------

BUGS = {
    "any_password": {"wrong_password_refused"},
    "user_enumeration": {"no_user_enumeration"},
    "no_exp": {"token_lifetime"},
    "accepts_expired": {"me_refuses_expired_token"},
    "alg_none": {"me_refuses_alg_none"},
    # A server that never checks signatures accepts unsigned tokens as well.
    "no_signature_check": {"me_refuses_tampered_token", "me_refuses_alg_none"},
    "refresh_reuse": {"refresh_reuse_refused"},
    # A refresh token that does not rotate can be used again, by definition.
    "refresh_no_rotate": {"refresh_rotates", "refresh_reuse_refused"},
    "logout_noop": {"logout_revokes"},
    "non_ascii_500": {"non_ascii_username"},
    "error_without_error": {"error_body_shape"},
    "no_no_store": {"token_no_store"},
    "token_type": {"token_type_bearer"},
    "no_www_authenticate": {
        "me_refuses_missing_token", "me_refuses_malformed_token", "me_refuses_tampered_token",
        "me_refuses_alg_none", "me_refuses_expired_token", "logout_revokes",
    },
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_a_broken_server_at_its_own_paths_fails_the_check_named_for_its_bug(bug: str) -> None:
    with Server(TinyAuth(bug)) as server:
        url = server.url
        result = mockauth_cli(
            "contract", url, "--username", USER, "--no-schema", *PATH_FLAGS,
            "--expired-token", expired_token(),
            env={"MOCKAUTH_CONTRACT_PASSWORD": PASSWORD},
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(failed(result.stdout)) == sorted(BUGS[bug]), result.stdout
    for name in BUGS[bug]:
        # The details tell what was sent (at the server's own paths), what came back, and how to send it again.
        block = details(result.stdout, name)
        assert "  sent:     " in block
        assert "  got:      " in block
        assert "  curl:     curl -i -X " in block
        assert "/auth/" not in block
        assert f"{url}/v1/" in block
    assert PASSWORD not in result.stdout  # curl lines read it from the environment
    assert "does NOT conform" in result.stdout


def test_the_failure_report_says_what_to_fix() -> None:
    with Server(TinyAuth("user_enumeration")) as server:
        report = Contract(server.url, username=USER, password=PASSWORD, paths=PATHS).run(
            only=["no_user_enumeration", "logout_revokes"]
        )
    row = report.result("no_user_enumeration")
    assert row.status == "failed"
    assert "'Wrong password.' vs 'No such user.'" in row.reason
    assert "which usernames exist" in row.reason
    assert len(row.evidence) == 2  # both answers, side by side
    assert report.result("logout_revokes").status == "passed"
    assert report.exit_code == 1
    text = report.render()
    assert "FAILED no_user_enumeration" in text
    assert "MOCKAUTH_CONTRACT_PASSWORD" in text
    assert PASSWORD not in text


def test_an_expired_token_is_waited_out_when_tokens_are_short_lived() -> None:
    # No expired_token: the check waits out a 1 s lifetime and tries the token again.
    with Server(TinyAuth("accepts_expired", lifetime=1)) as server:
        report = Contract(server.url, username=USER, password=PASSWORD, paths=PATHS).run(
            only=["me_refuses_expired_token"]
        )
    row = report.result("me_refuses_expired_token")
    assert (row.status, "waited out" in row.reason) == ("failed", True)


def test_an_untestable_check_is_skipped_with_the_reason_in_the_words_of_its_face() -> None:
    with Server(TinyAuth()) as server:
        report = Contract(server.url, username=USER, password=PASSWORD, schema=False, paths=PATHS).run(
            only=["me_refuses_expired_token", "not_a_server_error"]
        )
        cli = mockauth_cli(
            "contract", server.url, "--username", USER, "--password", PASSWORD, "--no-schema", *PATH_FLAGS,
        )
    expired, schema = report.result("me_refuses_expired_token"), report.result("not_a_server_error")
    assert expired.status == "skipped"
    assert "tokens live 900 s" in expired.reason
    assert "expired_token=TOKEN" in expired.reason and "--" not in expired.reason  # Python keywords
    assert schema == CheckResult(
        "not_a_server_error", "schema", SCHEMA_CHECKS["not_a_server_error"], "skipped",
        "schema checks turned off (schema=False)",
    )
    assert report.failed == []
    assert not report.ok and "was not checked" in report.summary()  # nothing proved is no pass
    status, text = table_rows(cli.stdout)["me_refuses_expired_token"]
    assert status == "SKIPPED" and "--expired-token TOKEN" in text  # the CLI's flags
    assert "not run: the schema checks (--no-schema)" in cli.stdout


def test_a_token_that_has_not_expired_is_refused_as_expired_token() -> None:
    fresh = jwt.encode({"sub": USER, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    result = mockauth_cli("contract", "http://127.0.0.1:9", "--username", USER, "--password", "x",
                          "--no-schema", "--expired-token", fresh)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mockauth contract: error: --expired-token: the token has not expired: its exp is "
        + result.stderr.split("its exp is ", 1)[1].split(" s from now")[0]
        + " s from now; give one whose exp has passed"
    ]
    with pytest.raises(ContractError, match="expired_token: not a JWT"):
        Contract("http://127.0.0.1:9", username="u", password="p", expired_token="abc", schema=False)


def test_schema_failures_come_with_a_curl_line_that_reads_the_password_by_field() -> None:
    # The mock, with its token answers stripped of expires_in (required by openapi.yaml),
    # and a user whose password is a part of the spec's example password.
    auth = MockAuth.from_fixtures()
    auth.add_user({"username": "short@example.com", "password": "secret"})

    def broken(environ: dict[str, Any], start_response: Any) -> Any:
        response = Response.from_app(auth.app, environ)
        if environ["PATH_INFO"] in ("/auth/login", "/auth/refresh") and response.status_code == 200:
            body = json.loads(response.get_data())
            body.pop("expires_in", None)
            response.set_data(json.dumps(body))
        return response(environ, start_response)

    with Server(broken) as server:
        result = mockauth_cli(
            "contract", server.url, "--username", "short@example.com", "--password", "secret",
            "--max-examples", "3", "--seed", "2", "--operations", "login,refresh,me",
            "--exclude-check", "positive_data_acceptance", "--exclude-check", "negative_data_rejection",
        )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["response_schema_conformance"][0] == "FAILED"
    assert "expires_in" in rows["token_lifetime"][1]
    assert rows["positive_data_acceptance"] == ("SKIPPED", "excluded (--exclude-check positive_data_acceptance)")
    block = details(result.stdout, "response_schema_conformance")
    assert "'expires_in' is a required property" in block or '"expires_in" is a required property' in block
    assert "  curl:     curl -i -X POST" in block
    # Masked by field: the real password is read from the variable, the spec's example
    # "secretpassword" is sent as it is, never as "***password".
    for line in result.stdout.splitlines():
        if "password=" in line and line.strip().startswith("curl"):
            assert "'password='\"$MOCKAUTH_CONTRACT_PASSWORD\"" in line or "password=secretpassword" in line
    assert "***" not in result.stdout
    assert "password=secret'" not in result.stdout and "password=secret&" not in result.stdout


# -- bad usage and unreachable targets: exit 2, one line ------------------------------------


def test_an_unreachable_target_exits_2_with_one_line() -> None:
    result = mockauth_cli("contract", "http://127.0.0.1:9", "--username", USER, "--password", "x")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mockauth contract: error: cannot reach http://127.0.0.1:9: connection refused"
    ]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--max-examples", "many"], "--max-examples"),
        (["--timeout", "0"], "--timeout"),
        (["--budget", "0"], "--budget"),
        (["--header", "no-colon-here"], "--header"),
        (["--exclude-check", "no_such_check"], "--exclude-check"),
        (["--spec", "/nonexistent/openapi.yaml"], "--spec"),
        (["--password", ""], "--password"),
        (["--junit-xml", "/nonexistent/dir/contract.xml"], "--junit-xml"),
        (["--markdown", "/nonexistent/dir/summary.md"], "--markdown"),
        (["--operations", "login,register"], "--operations"),
        (["--operations", "login,openapi"], "--operations"),
        (["--path", "login"], "--path"),
        (["--path", "login=token"], "--path"),
        (["--path", "refresh=/renew", "--operations", "login,me"], "--path"),
        (["--path", "login=/same", "--path", "logout=/same", "--operations", "login,logout"], "--path"),
        (["--content-type", "xml"], "--content-type"),
        (["--expired-token", "abc"], "--expired-token"),
        (["--baseline", "/nonexistent/baseline.json"], "--baseline"),
        (["--update-baseline"], "--update-baseline"),
        (["--max-examples-shown", "0"], "--max-examples-shown"),
        (["--config", "/nonexistent/mockauth-contract.toml"], "--config"),
        (["--totp-secret", "not-base32!"], "--totp-secret"),
        (["--redirect-uri", "/callback"], "--redirect-uri"),
        (["--client-id", ""], "--client-id"),
    ],
)
def test_a_bad_flag_exits_2_naming_it(args: list[str], flag: str, tmp_path: Path) -> None:
    base = ["contract", "http://127.0.0.1:9", "--username", USER, "--password", "x", "--no-schema"]
    result = mockauth_cli(*base, *args, env={"MOCKAUTH_CONTRACT_PASSWORD": ""}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert flag in lines[0]


def test_the_library_refuses_bad_arguments_with_contract_error() -> None:
    with pytest.raises(ContractError, match="must be an http"):
        Contract("ftp://example.com", username="u", password="p")
    with pytest.raises(ContractError, match="'bogus': unknown"):
        Contract("http://127.0.0.1:9", username="u", password="p", exclude_checks=["bogus"])
    with pytest.raises(ContractError, match="operations: 'openapi' is mock-only"):
        Contract("http://127.0.0.1:9", username="u", password="p", operations=["login", "openapi"])
    with pytest.raises(ContractError, match="cannot reach"):
        Contract("http://127.0.0.1:9", username="u", password="p").run()


def test_without_schemathesis_the_run_exits_2_unless_told_no_schema() -> None:
    # schemathesis is the `contract` extra: a bare install must not say "conforms" with
    # half the contract unrun.
    blocked = "import sys; sys.modules['schemathesis'] = None; from mockauth._cli import main; sys.exit(main(sys.argv[1:]))"
    with Server(TinyAuth()) as server:
        args = [server.url, "--username", USER, "--password", PASSWORD, *PATH_FLAGS]
        refused = subprocess.run([sys.executable, "-c", blocked, "contract", *args], capture_output=True, text=True, timeout=120)
        alone = subprocess.run(
            [sys.executable, "-c", blocked, "contract", *args, "--no-schema"], capture_output=True, text=True, timeout=120
        )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "mockauth contract: error: the schema checks need schemathesis, which is not installed: "
        "pip install 'mockauth[contract]' (or run the auth checks alone with --no-schema)"
    ]
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "conforms: " in alone.stdout and "not run: the schema checks (--no-schema)" in alone.stdout


# -- the pytest door: a downstream suite keeps the contract in its own CI -------------------


def test_a_downstream_suite_runs_the_contract_with_contract_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_auth_contract="""
        from mockauth import contract_test

        test_auth_contract = contract_test(max_examples=3, seed=1)
        """
    )
    auth = MockAuth.from_fixtures()
    with Server(auth.app) as server:
        monkeypatch.setenv("MOCKAUTH_CONTRACT_URL", server.url)
        monkeypatch.setenv("MOCKAUTH_CONTRACT_USERNAME", USER)
        monkeypatch.setenv("MOCKAUTH_CONTRACT_PASSWORD", PASSWORD)
        # In a process of its own: an in-process pytester run drops from sys.modules what
        # it imported, so schemathesis modules that an earlier in-process run (on the same
        # xdist worker) loaded first come back here as second copies, whose Status values
        # never equal those the checks report, and the run counts no check at all.
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=len(AUTH_CHECK_NAMES), skipped=1)
    # Skip reasons name contract_test's keywords, not the CLI's flags.
    result.stdout.fnmatch_lines(["*me_refuses_expired_token*tokens live 900 s*pass expired_token=TOKEN*"])
    result.stdout.no_fnmatch_line("*--expired-token*")


def test_contract_test_skips_without_a_target(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOCKAUTH_CONTRACT_URL", raising=False)
    pytester.makepyfile("from mockauth import contract_test\ntest_contract = contract_test()\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "login_succeeds")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*pass url= to contract_test or set MOCKAUTH_CONTRACT_URL*"])


def test_contract_test_fails_with_the_report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(
        "from mockauth import contract_test\n"
        f"test_contract = contract_test(paths={PATHS!r})\n"
    )
    with Server(TinyAuth("logout_noop")) as server:
        monkeypatch.setenv("MOCKAUTH_CONTRACT_URL", server.url)
        monkeypatch.setenv("MOCKAUTH_CONTRACT_USERNAME", USER)
        monkeypatch.setenv("MOCKAUTH_CONTRACT_PASSWORD", PASSWORD)
        result = pytester.runpytest("-p", "no:cacheprovider", "-k", "logout_revokes or login_succeeds")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED logout_revokes: the access token after logout was accepted*"])


def test_extra_headers_reach_the_target() -> None:
    # An API gateway in front of the server refuses requests without its key.
    tiny = TinyAuth()

    def gateway(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_API_KEY") != "k3y":
            return Response('{"error": "forbidden", "error_description": "No key."}', 403)(environ, start_response)
        return tiny(environ, start_response)

    checks = ["login_succeeds", "logout_revokes"]
    with Server(gateway) as server:
        with_key = Contract(
            server.url, username=USER, password=PASSWORD, headers={"X-Api-Key": "k3y"}, paths=PATHS
        ).run(only=checks)
        without = Contract(server.url, username=USER, password=PASSWORD, paths=PATHS).run(only=checks)
    assert [r.status for r in with_key.results] == ["passed", "passed"]
    assert without.result("login_succeeds").status == "failed"
    assert "HTTP 403 forbidden" in without.result("login_succeeds").reason


def test_the_serve_path_never_loads_schemathesis() -> None:
    # schemathesis is the `contract` extra: importing mockauth or building the CLI must not need it.
    code = "import sys, mockauth, mockauth._cli; mockauth._cli.build_parser(); print(sorted(m for m in sys.modules if m.startswith('schemathesis')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
