"""The contract runner's OAuth and challenge checks: the mock passes them; deliberately
broken servers (small independent implementations, not mockauth) fail each by the check
named for its bug; a real authorization server written with Authlib fails only where it
departs from RFC 6749; the login page a code comes from is driven as a browser would, or
the checks that need one are skipped saying why."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shlex
import subprocess
import time
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest
from contract_support import details, failed, mockauth_cli, table_rows
from deployments import serve
from werkzeug.wrappers import Request, Response

from mockauth import Contract, MockAuth, Server
from mockauth._contract.catalog import CHALLENGE, OAUTH

README = Path(__file__).resolve().parent.parent / "README.md"
USER, PASSWORD = "user@example.com", "secretpassword"
OAUTH_NAMES = [check.name for check in OAUTH.checks]
CHALLENGE_NAMES = [check.name for check in CHALLENGE.checks]


def readme_commands(heading: str) -> tuple[dict[str, str], list[list[str]]]:
    """The bash block of a README section: its exported variables, and its other commands."""
    section = README.read_text(encoding="utf-8").split(f"### {heading}\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    variables: dict[str, str] = {}
    commands = []
    for line in block.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            variables.update(word.split("=", 1) for word in words[1:])  # type: ignore[misc]
        elif words:
            commands.append(words)
    return variables, commands


def test_readme_oauth_and_challenge_examples_pass_against_the_mock_and_say_what_they_changed() -> None:
    auth = MockAuth.from_fixtures()
    oauth_env, [oauth_run] = readme_commands("OAuth checks")
    challenge_env, [challenge_run, reset] = readme_commands("Challenge checks")
    assert oauth_run[:3] == challenge_run[:3] == ["mockauth", "contract", "http://127.0.0.1:8765"]
    assert reset[:3] == ["curl", "-X", "POST"]
    with Server(auth.app) as server:
        def pasted(words: list[str], *extra: str, env: dict[str, str]) -> Any:
            # As pasted, at the test server's port, less some fuzzing (a test run is not a CI run).
            return mockauth_cli(*[w.replace("http://127.0.0.1:8765", server.url) for w in words[1:]], *extra, env=env)

        oauth = pasted(oauth_run, "--max-examples", "3", "--seed", "1", env=oauth_env)
        challenges = pasted(challenge_run, "--max-examples", "3", "--seed", "1", env=challenge_env)
        # Again, for the password flow alone (the codes of this 30 s step are spent).
        again = pasted(challenge_run, "--no-schema", "--operations", "login,password", env=challenge_env)
        subprocess.run([w.replace("http://127.0.0.1:8765", server.url) for w in reset], check=True,
                       capture_output=True, timeout=30)
        after_reset = pasted(challenge_run, "--no-schema", "--operations", "login,password", env=challenge_env)
    for result, names in ((oauth, OAUTH_NAMES), (challenges, CHALLENGE_NAMES), (after_reset, CHALLENGE_NAMES[4:])):
        assert result.returncode == 0, result.stdout + result.stderr
        rows = table_rows(result.stdout)
        assert {name: rows[name][0] for name in names} == dict.fromkeys(names, "PASSED"), result.stdout
    assert not auth.app.errors
    # What the run left changed on the target is said, and how to undo it on the mock.
    changes = challenges.stdout.split("changed on the target by this run:\n", 1)[1].split("\n\n", 1)[0]
    assert "expired@example.com: its password is now the new password given" in changes
    assert "POST /_mockauth/reset" in changes and "mfa@example.com: one wrong one-time code sent" in changes
    # The user no longer expired: the next run says so rather than failing the target.
    assert again.returncode == 0, again.stdout + again.stderr
    status, reason = table_rows(again.stdout)["password_expired"]
    assert status == "SKIPPED" and "already has the new password (an earlier run changed it)" in reason
    assert table_rows(after_reset.stdout)["password_change_gives_tokens"][0] == "PASSED"
    # The client secret and the users' new password never appear; the TOTP secret is never sent.
    for secret in ("demo-secret", "correct-horse-battery", "JBSWY3DPEHPK3PXP"):
        assert secret not in oauth.stdout + challenges.stdout


def test_without_their_operations_the_oauth_and_challenge_checks_are_no_part_of_the_run() -> None:
    with Server(MockAuth.from_fixtures().app) as server:
        report = Contract(server.url, username=USER, password=PASSWORD, schema=False).run()
        named = Contract(server.url, username=USER, password=PASSWORD, schema=False,
                         operations=["login", "token"]).run()
        challenges = Contract(server.url, username=USER, password=PASSWORD, schema=False,
                              operations=["login", "mfa", "password"]).run(only=CHALLENGE_NAMES)
    assert not {*OAUTH_NAMES, *CHALLENGE_NAMES} & {r.name for r in report.results}
    assert "OAuth checks (they need token, authorize)" in report.not_run()
    # Named, but without a client: skipped, saying which option gives one.
    assert named.result("oauth_password_grant").reason.startswith("needs an OAuth client: pass client_id=ID")
    assert "oauth_code_used_once" not in {r.name for r in named.results}  # needs authorize too
    # Named, but without the users that have the challenges: skipped, saying which options give them.
    assert challenges.result("mfa_required").reason == (
        "needs a user asked for a one-time code: pass mfa_username=USER and mfa_password=..."
    )
    assert challenges.result("password_expired").reason == (
        "needs a user whose password has expired: pass expired_username=USER and expired_password=..."
    )
    assert {r.status for r in challenges.results} == {"skipped"}


# -- a small OAuth server, correct unless told which one bug to have -----------------------

CLIENT_ID, CLIENT_SECRET = "tiny-client", "tiny-secret"
REDIRECT = "http://127.0.0.1/callback"


class TinyOAuth:
    """An independent OAuth 2.0 server (not mockauth): a token endpoint with the password,
    refresh_token and authorization_code (PKCE S256) grants, and a login page at
    /authorize, with `bug` naming the one thing it gets wrong."""

    def __init__(self, bug: str | None = None) -> None:
        self.bug = bug
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh: dict[str, bool] = {}  # refresh token -> still usable

    @staticmethod
    def answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(json.dumps(body), status, headers=headers, content_type="application/json")

    def error(self, code: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
        return self.answer({"error": code, "error_description": code.replace("_", " ") + "."}, status, headers)

    def tokens(self) -> Response:
        refresh = secrets.token_urlsafe(16)
        self.refresh[refresh] = True
        body = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 600,
                "refresh_token": refresh}
        return self.answer(body, headers={} if self.bug == "no_no_store" else {"Cache-Control": "no-store"})

    def client_ok(self, request: Request) -> bool:
        auth = request.authorization
        if auth is None or auth.type != "basic":
            return False
        return auth.username == CLIENT_ID and (auth.password == CLIENT_SECRET or self.bug == "any_secret")

    def token(self, request: Request) -> Response:
        if not self.client_ok(request):
            if self.bug == "secret_400":
                return self.error("invalid_client")
            return self.error("invalid_client", 401, {"WWW-Authenticate": 'Basic realm="tiny"'})
        form = request.form
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") == USER and form.get("password") == PASSWORD:
                return self.tokens()
            return self.error("invalid_credentials", 401) if self.bug == "wrong_password_401" else \
                self.error("invalid_grant")
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if not self.refresh.get(old):
                return self.error("invalid_grant")
            self.refresh[old] = self.bug == "refresh_reuse"
            response = self.tokens()
            if self.bug == "refresh_no_rotate":
                body = json.loads(response.get_data())
                self.refresh[old] = True
                response.set_data(json.dumps({**body, "refresh_token": old}))
            return response
        if grant == "authorization_code":
            record = self.codes.get(form.get("code", ""))
            if record is None or record["used"] or form.get("redirect_uri") != REDIRECT:
                return self.error("invalid_grant")
            record["used"] = self.bug != "code_reuse"
            verifier = form.get("code_verifier", "")
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if computed != record["challenge"] and self.bug != "pkce_ignored":
                return self.error("invalid_grant")
            return self.tokens()
        return self.error("unsupported_grant_type")

    def authorize(self, request: Request) -> Response:
        params = request.values
        if params.get("client_id") != CLIENT_ID or params.get("redirect_uri") != REDIRECT:
            return Response("<p>Unknown client.</p>", 400, content_type="text/html")
        if request.method == "GET":
            hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                             for k, v in request.args.items())
            return Response(f'<form method="post" action="/authorize">{hidden}<input name="username">'
                            '<input type="password" name="password"><button>Sign in</button></form>',
                            content_type="text/html")
        if params.get("username") != USER or params.get("password") != PASSWORD:
            return Response("<p>Wrong password.</p>", 401, content_type="text/html")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": params.get("code_challenge"), "used": False}
        query = urlencode({"code": code, "state": params.get("state", "")})
        return Response(status=303, headers={"Location": f"{REDIRECT}?{query}"})

    @Request.application  # type: ignore[arg-type]
    def __call__(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self.token(request)
        if request.path == "/authorize":
            return self.authorize(request)
        return self.error("not_found", 404)


TINY_FLAGS = ["--operations", "token,authorize", "--path", "token=/token", "--path", "authorize=/authorize",
              "--client-id", CLIENT_ID, "--no-schema", "--username", USER]
TINY_SECRETS = {"MOCKAUTH_CONTRACT_PASSWORD": PASSWORD, "MOCKAUTH_CONTRACT_CLIENT_SECRET": CLIENT_SECRET}
OAUTH_BUGS = {
    "no_no_store": {"oauth_password_grant"},
    "refresh_no_rotate": {"oauth_refresh_rotates"},
    "refresh_reuse": {"oauth_refresh_rotates"},
    "wrong_password_401": {"oauth_wrong_password_invalid_grant"},
    "any_secret": {"oauth_bad_secret_invalid_client"},
    "secret_400": {"oauth_bad_secret_invalid_client"},
    "code_reuse": {"oauth_code_used_once"},
    "pkce_ignored": {"oauth_pkce_verified"},
}


@pytest.mark.parametrize("bug", [None, *sorted(OAUTH_BUGS)])
def test_a_broken_oauth_server_fails_the_check_named_for_its_bug(bug: str | None) -> None:
    with Server(TinyOAuth(bug)) as server:
        result = mockauth_cli("contract", server.url, *TINY_FLAGS, env=TINY_SECRETS)
    rows = table_rows(result.stdout)
    assert sorted(failed(result.stdout)) == sorted(OAUTH_BUGS.get(bug or "", set())), result.stdout
    assert all(rows[name][0] in ("PASSED", "FAILED") for name in OAUTH_NAMES), result.stdout  # none skipped
    assert result.returncode == (1 if bug else 0)
    for name in OAUTH_BUGS.get(bug or "", ()):
        block = details(result.stdout, name)
        assert "  sent:     POST " in block and "  curl:     curl -i -X POST" in block
    assert CLIENT_SECRET not in result.stdout and PASSWORD not in result.stdout


def test_the_login_page_is_never_left_for_another_origin_nor_guessed_at() -> None:
    # A login page elsewhere gets no password; a page with no form (one that needs
    # JavaScript) cannot give a code: the code checks are skipped saying so.
    tiny = TinyOAuth()

    def elsewhere(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/authorize":
            response = Response(status=302, headers={"Location": "https://sso.example.test/login"})
        elif request.path == "/spa":
            response = Response("<div id=root></div><script src=app.js></script>", content_type="text/html")
        else:
            return tiny(environ, start_response)
        return response(environ, start_response)

    with Server(elsewhere) as server:
        away = Contract(server.url, username=USER, password=PASSWORD, schema=False, operations=["token", "authorize"],
                        paths={"token": "/token", "authorize": "/authorize"}, client_id=CLIENT_ID,
                        client_secret=CLIENT_SECRET, redirect_uri=REDIRECT).run()
        script = Contract(server.url, username=USER, password=PASSWORD, schema=False, operations=["token", "authorize"],
                          paths={"token": "/token", "authorize": "/spa"}, client_id=CLIENT_ID,
                          client_secret=CLIENT_SECRET, redirect_uri=REDIRECT).run(only=["oauth_code_used_once"])
    assert away.result("oauth_code_used_once").reason == (
        "no authorization code: the sign-in goes to another origin (https://sso.example.test); the runner sends "
        "the password only to the target"
    )
    assert away.result("oauth_pkce_verified").status == "skipped"
    assert away.result("oauth_password_grant").status == "passed"
    reason = script.result("oauth_code_used_once").reason
    assert reason.startswith("no authorization code: GET /spa has no form the runner can fill") and "JavaScript" in reason


def test_a_real_authlib_server_fails_only_where_it_departs_from_rfc_6749() -> None:
    from deployments.authlib_app import CLIENT_ID as AUTHLIB_CLIENT
    from deployments.authlib_app import CLIENT_SECRET as AUTHLIB_SECRET
    from deployments.authlib_app import PASSWORD as AUTHLIB_PASSWORD
    from deployments.authlib_app import REDIRECT_URI, USERNAME

    with serve("authlib_app") as url:
        result = mockauth_cli(
            "contract", url, "--username", USERNAME, "--operations", "token,authorize", "--client-id", AUTHLIB_CLIENT,
            "--redirect-uri", REDIRECT_URI, "--path", "token=/oauth/token", "--path", "authorize=/oauth/authorize",
            "--no-schema",
            env={"MOCKAUTH_CONTRACT_PASSWORD": AUTHLIB_PASSWORD, "MOCKAUTH_CONTRACT_CLIENT_SECRET": AUTHLIB_SECRET},
        )
    rows = table_rows(result.stdout)
    assert result.returncode == 1
    # Its login page (a redirect to /login, a CSRF token, a session cookie, a consent page
    # with Allow and Deny) gave the codes; every other check passed.
    assert {name for name in OAUTH_NAMES if rows[name][0] == "PASSED"} == set(OAUTH_NAMES) - {
        "oauth_wrong_password_invalid_grant"
    }
    # The one departure: Authlib answers a wrong resource owner password with invalid_request.
    assert failed(result.stdout) == ["oauth_wrong_password_invalid_grant"]
    assert details(result.stdout, "oauth_wrong_password_invalid_grant").startswith(
        "a wrong password in the password grant got HTTP 400 invalid_request; a wrong resource owner password must "
        "be refused with 400 invalid_grant (RFC 6749 5.2)"
    )


# -- a small server with challenges, correct unless told which one bug to have -------------

MFA_USER, EXPIRED_USER, NEW_PASSWORD = "otp@example.com", "old@example.com", "a-much-better-password"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"


class TinyChallenges:
    """An independent login with a one-time code step and an expired-password step (not mockauth)."""

    def __init__(self, bug: str | None = None) -> None:
        self.bug = bug
        self.passwords = {MFA_USER: PASSWORD, EXPIRED_USER: PASSWORD}
        self.expired = {EXPIRED_USER}
        self.tokens: dict[str, str] = {}  # challenge token -> user
        self.used_steps: set[int] = set()

    @staticmethod
    def answer(body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status, content_type="application/json")

    def signed_in(self) -> Response:
        return self.answer({"access_token": secrets.token_urlsafe(8), "token_type": "bearer", "expires_in": 60})

    def challenge(self, user: str, error: str, field: str) -> Response:
        token = secrets.token_urlsafe(8)
        self.tokens[token] = user
        return self.answer({"error": error, "error_description": error, field: token}, 403)

    @Request.application  # type: ignore[arg-type]
    def __call__(self, request: Request) -> Response:
        form = request.form
        if request.path == "/auth/login":
            user, password = form.get("username", ""), form.get("password", "")
            if self.passwords.get(user) != password or not password:
                return self.answer({"error": "invalid_credentials", "error_description": "No."}, 401)
            if user in self.expired and self.bug != "expiry_ignored":
                return self.challenge(user, "password_expired", "change_token")
            if user == MFA_USER and self.bug != "mfa_skipped":
                return self.challenge(user, "mfa_required", "mfa_token")
            return self.signed_in()
        user = self.tokens.pop(form.get("mfa_token") or form.get("change_token") or "", None)
        if user is None:
            return self.answer({"error": "invalid_token", "error_description": "Unknown token."}, 401)
        if request.path == "/auth/mfa":
            step = int(time.time() // 30)
            totp = pyotp.TOTP(TOTP_SECRET)
            right = form.get("code") == totp.at(time.time())
            # Replay protection is for the right code: a wrong one let through spends no step.
            if (right and (step not in self.used_steps or self.bug == "mfa_replay")) or (
                not right and self.bug == "mfa_any_code"
            ):
                if right:
                    self.used_steps.add(step)
                return self.answer({"status": "verified"}) if self.bug == "mfa_no_tokens" else self.signed_in()
            return self.answer({"error": "invalid_mfa_code", "error_description": "Wrong code."}, 401)
        new = form.get("new_password", "")
        if len(new) < 8 and self.bug != "no_policy":
            return self.answer({"error": "weak_password", "error_description": "Too short."}, 400)
        if self.bug != "old_password_kept":
            self.passwords[user] = new
        self.expired.discard(user)
        return self.answer({"status": "changed"}) if self.bug == "change_no_tokens" else self.signed_in()


CHALLENGE_BUGS = {
    "mfa_skipped": {"mfa_required"},
    "mfa_any_code": {"mfa_wrong_code_refused"},
    "mfa_replay": {"mfa_code_replay_refused"},
    "mfa_no_tokens": {"mfa_code_gives_tokens"},
    "expiry_ignored": {"password_expired"},
    "no_policy": {"weak_password_refused"},
    "old_password_kept": {"old_password_refused"},
    "change_no_tokens": {"password_change_gives_tokens"},
}


@pytest.mark.parametrize("bug", [None, *sorted(CHALLENGE_BUGS)])
def test_a_broken_challenge_flow_fails_the_check_named_for_its_bug(bug: str | None) -> None:
    with Server(TinyChallenges(bug)) as server:
        report = Contract(
            server.url, username=MFA_USER, password=PASSWORD, schema=False, operations=["login", "mfa", "password"],
            mfa_username=MFA_USER, mfa_password=PASSWORD, totp_secret=TOTP_SECRET, expired_username=EXPIRED_USER,
            expired_password=PASSWORD, new_password=NEW_PASSWORD,
        ).run(only=CHALLENGE_NAMES)
    assert sorted(r.name for r in report.failed) == sorted(CHALLENGE_BUGS.get(bug or "", set())), report.render()
    # A broken step can leave the later ones without evidence: skipped, never passed.
    others = [r for r in report.results if r.name not in CHALLENGE_BUGS.get(bug or "", set())]
    assert all(r.status == "passed" or (bug and r.status == "skipped") for r in others), report.render()
    if bug == "no_policy":
        assert "its password is now 'a'" in "\n".join(report.changes)


def test_every_oauth_and_challenge_check_has_a_broken_server_that_fails_it() -> None:
    assert set().union(*OAUTH_BUGS.values()) == set(OAUTH_NAMES)
    assert set().union(*CHALLENGE_BUGS.values()) == set(CHALLENGE_NAMES)
