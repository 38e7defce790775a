"""The contract runner: the mock passes its own contract, and deliberately broken auth
servers fail it, each by the check named for its bug."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jwt
import pytest
from werkzeug.wrappers import Request, Response

from mockauth import CheckResult, Contract, ContractError, MockAuth, Server
from mockauth._contract import AUTH_CHECK_NAMES, SCHEMA_CHECKS

USER, PASSWORD = "user@example.com", "secretpassword"
SECRET = "tiny-auth-secret-for-the-contract-tests-only"


def mockauth_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockauth", *args],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
    )


def table_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """check name -> (PASSED/FAILED/SKIPPED, text) from the printed table."""
    names = {*AUTH_CHECK_NAMES, *SCHEMA_CHECKS, "schema_run_errors"}
    rows = {}
    for line in stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] in names and parts[1] in ("PASSED", "FAILED", "SKIPPED"):
            rows[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return rows


# -- a small auth server, correct unless told which one bug to have ------------------------


class TinyAuth:
    """A second, independent implementation of the auth API (not mockauth), with `bug`
    naming the one thing it gets wrong."""

    def __init__(self, bug: str | None = None, lifetime: int = 900) -> None:
        self.bug = bug
        self.lifetime = lifetime
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
            "token_type": "mac" if self.bug == "token_type" else "bearer",
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

    @Request.application  # type: ignore[arg-type]
    def __call__(self, request: Request) -> Response:
        route = (request.method, request.path)
        params: dict[str, Any] = dict(request.form) if request.form else (request.get_json(silent=True) or {})
        if route == ("POST", "/auth/login"):
            username, password = params.get("username"), params.get("password")
            if not username or not password:
                return self.error(400, "invalid_request", "username and password are required.")
            if self.bug == "non_ascii_500" and not username.isascii():
                return Response("Internal Server Error", 500)
            known = username == USER
            if known and (password == PASSWORD or self.bug == "any_password"):
                return self.tokens(USER, secrets.token_hex(8))
            if self.bug == "user_enumeration":
                text = "Wrong password." if known else "No such user."
                return self.error(401, "invalid_credentials", text)
            return self.error(401, "invalid_credentials", "The username or password is incorrect.")
        if route == ("POST", "/auth/refresh"):
            record = self.refresh_tokens.get(params.get("refresh_token") or "")
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
        if route in (("GET", "/auth/me"), ("POST", "/auth/logout")):
            claims = self.claims(request)
            if isinstance(claims, Response):
                return claims
            if request.method == "GET":
                return Response(json.dumps({"sub": claims["sub"]}), 200, content_type="application/json")
            if self.bug != "logout_noop":
                self.revoked.update({claims["jti"], claims["fam"]})
            return Response(status=204)
        return self.error(404, "not_found", f"No {request.path} here.")


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
            "contract", server.url, "--username", USER, "--password", PASSWORD,
            "--max-examples", "10", "--seed", "1", "--junit-xml", str(junit),
            "--expired-token", auth.issue_token(USER, expires_in=-60),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not auth.app.errors  # no request raised inside the mock
    rows = table_rows(result.stdout)
    assert set(rows) == {*AUTH_CHECK_NAMES, *SCHEMA_CHECKS}
    assert {name for name, (status, _) in rows.items() if status == "FAILED"} == set()
    for name, (status, text) in rows.items():
        assert status in ("PASSED", "SKIPPED"), name
        if status == "SKIPPED":  # a skip says why
            assert len(text) > 20, name
    assert all(rows[name][0] == "PASSED" for name in AUTH_CHECK_NAMES)
    for phase in ("examples", "coverage", "fuzzing", "stateful"):  # progress while it ran
        assert f"  {phase} " in result.stdout
    assert "conforms: " in result.stdout
    # The stateful phase followed login -> me / refresh / logout with real tokens.
    answered = {(entry.operation, entry.status) for entry in auth.journal.entries()}
    assert {("login", 200), ("me", 200), ("refresh", 200), ("logout", 204)} <= answered
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(rows)
    assert {case.get("name") for case in suite.iter("testcase")} == set(rows)


def test_an_unbroken_independent_server_passes_every_auth_check() -> None:
    # The control for the broken servers below: without its bug, TinyAuth is clean.
    with Server(TinyAuth()) as server:
        report = Contract(
            server.url, username=USER, password=PASSWORD, expired_token=expired_token()
        ).run(only=AUTH_CHECK_NAMES)
    assert [r.name for r in report.results if r.status != "passed"] == []


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
def test_a_broken_server_fails_the_check_named_for_its_bug(bug: str) -> None:
    with Server(TinyAuth(bug)) as server:
        result = mockauth_cli(
            "contract", server.url, "--username", USER, "--no-schema",
            "--expired-token", expired_token(),
            env={"MOCKAUTH_CONTRACT_PASSWORD": PASSWORD},
        )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    failed = {name for name, (status, _) in rows.items() if status == "FAILED"}
    assert failed == BUGS[bug], result.stdout
    for name in failed:
        # The details tell what was sent, what came back, and how to send it again.
        block = result.stdout.split(f"FAILED {name}: ", 1)[1].split("\n\n", 1)[0]
        assert "  sent:     " in block
        assert "  got:      " in block
        assert "  curl:     curl -i -X " in block
    assert PASSWORD not in result.stdout  # curl lines read it from the environment
    assert "does NOT conform" in result.stdout


def test_the_failure_report_says_what_to_fix() -> None:
    with Server(TinyAuth("user_enumeration")) as server:
        report = Contract(server.url, username=USER, password=PASSWORD).run(
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
    # No --expired-token: the check waits out a 1 s lifetime and tries the token again.
    with Server(TinyAuth("accepts_expired", lifetime=1)) as server:
        report = Contract(server.url, username=USER, password=PASSWORD).run(only=["me_refuses_expired_token"])
    row = report.result("me_refuses_expired_token")
    assert (row.status, "waited out" in row.reason) == ("failed", True)


def test_an_untestable_check_is_skipped_with_the_reason() -> None:
    with Server(TinyAuth()) as server:
        report = Contract(server.url, username=USER, password=PASSWORD, schema=False).run(
            only=["me_refuses_expired_token", "not_a_server_error"]
        )
    expired, schema = report.result("me_refuses_expired_token"), report.result("not_a_server_error")
    assert expired.status == "skipped"
    assert "tokens live 900 s" in expired.reason
    assert "--expired-token" in expired.reason
    assert schema == CheckResult(
        "not_a_server_error", "schema", SCHEMA_CHECKS["not_a_server_error"], "skipped",
        "schema checks turned off (--no-schema)",
    )
    assert report.ok


def test_schema_failures_come_with_a_curl_line() -> None:
    # The mock, with its token answers stripped of expires_in (required by openapi.yaml).
    auth = MockAuth.from_fixtures()

    def broken(environ: dict[str, Any], start_response: Any) -> Any:
        response = Response.from_app(auth.app, environ)
        if environ["PATH_INFO"] in ("/auth/login", "/auth/refresh") and response.status_code == 200:
            body = json.loads(response.get_data())
            body.pop("expires_in", None)
            response.set_data(json.dumps(body))
        return response(environ, start_response)

    with Server(broken) as server:
        result = mockauth_cli(
            "contract", server.url, "--username", USER, "--password", PASSWORD,
            "--max-examples", "3", "--seed", "2",
            "--exclude-check", "positive_data_acceptance", "--exclude-check", "negative_data_rejection",
        )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["response_schema_conformance"][0] == "FAILED"
    assert rows["token_lifetime"][0] == "FAILED"
    assert rows["positive_data_acceptance"] == ("SKIPPED", "excluded (--exclude-check)")
    details = result.stdout.split("FAILED response_schema_conformance: ", 1)[1]
    assert "expires_in" in details
    assert "  curl:     curl -X POST" in details
    assert PASSWORD not in details


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
        (["--header", "no-colon-here"], "--header"),
        (["--exclude-check", "no_such_check"], "--exclude-check"),
        (["--spec", "/nonexistent/openapi.yaml"], "--spec"),
        (["--password", ""], "--password"),
        (["--junit-xml", "/nonexistent/dir/contract.xml"], "--junit-xml"),
    ],
)
def test_a_bad_flag_exits_2_naming_it(args: list[str], flag: str) -> None:
    base = ["contract", "http://127.0.0.1:9", "--username", USER, "--password", "x"]
    result = mockauth_cli(*base, *args, env={"MOCKAUTH_CONTRACT_PASSWORD": ""})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert flag in lines[0]


def test_the_library_refuses_bad_arguments_with_contract_error() -> None:
    with pytest.raises(ContractError, match="must be an http"):
        Contract("ftp://example.com", username="u", password="p")
    with pytest.raises(ContractError, match="'bogus': unknown"):
        Contract("http://127.0.0.1:9", username="u", password="p", exclude_checks=["bogus"])
    with pytest.raises(ContractError, match="cannot reach"):
        Contract("http://127.0.0.1:9", username="u", password="p").run()


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
    result.stdout.fnmatch_lines(["*me_refuses_expired_token*tokens live 900 s*"])


def test_contract_test_skips_without_a_target(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOCKAUTH_CONTRACT_URL", raising=False)
    pytester.makepyfile("from mockauth import contract_test\ntest_contract = contract_test()\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "login_succeeds")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*set MOCKAUTH_CONTRACT_URL*"])


def test_contract_test_fails_with_the_report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("from mockauth import contract_test\ntest_contract = contract_test()\n")
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
        with_key = Contract(server.url, username=USER, password=PASSWORD, headers={"X-Api-Key": "k3y"}).run(only=checks)
        without = Contract(server.url, username=USER, password=PASSWORD).run(only=checks)
    assert [r.status for r in with_key.results] == ["passed", "passed"]
    assert without.result("login_succeeds").status == "failed"
    assert "HTTP 403 forbidden" in without.result("login_succeeds").reason


def test_the_serve_path_never_loads_schemathesis() -> None:
    # schemathesis is the `contract` extra: importing mockauth or building the CLI must not need it.
    code = "import sys, mockauth, mockauth._cli; mockauth._cli.build_parser(); print(sorted(m for m in sys.modules if m.startswith('schemathesis')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
