"""The contract runner against real deployments written with other frameworks, served for
real (tests/deployments/): the FastAPI tutorial's pattern fails on exactly its usual gaps,
each named once, through README's example as pasted; a compliant Flask + Flask-JWT-Extended
deployment passes with zero failures and no noise; known failures; settings files."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from contract_support import details, failed, mockauth_cli, table_rows
from deployments import serve

from mockauth._contract import AUTH_CHECK_NAMES, SCHEMA_CHECKS

README = Path(__file__).resolve().parent.parent / "README.md"
FASTAPI_PASSWORD = "secret"
FLASK_USER, FLASK_PASSWORD = "ada@example.com", "correct horse battery staple"
# What FastAPI's tutorial gets wrong against openapi.yaml, and the check that names each.
FASTAPI_GAPS = {
    "token_no_store": "the login answer lacks 'Cache-Control: no-store'",
    "token_lifetime": "no numeric iat claim in the access token (it does not say when it was issued); "
    "no numeric expires_in in the login answer",
    "me_accepts_token": "GET /users/me/ answered without a 'sub' string",
    "error_body_shape": "an error answer (401) has no error or error_description string",
    "status_code_conformance": "POST /token: Undocumented status code: Received: 422",
    "response_schema_conformance": '"error" is a required property',
}
FLASK_SETTINGS = """\
[tool.mockauth.contract]
username = "ada@example.com"
password-env = "FLASK_PASSWORD"
operations = ["login", "refresh", "me", "logout", "health"]
content-type = "json"
junit-xml = "reports/contract.xml"

[tool.mockauth.contract.paths]
login = "/api/login"
refresh = "/api/token/refresh"
me = "/api/profile"
logout = "/api/logout"
health = "/api/health"
"""


def readme_example() -> tuple[str, list[list[str]]]:
    """README's FastAPI example: the settings file, and the commands of its bash block."""
    section = README.read_text(encoding="utf-8").split("#### Example: a FastAPI deployment", 1)[1]
    settings = section.split("```toml\n", 1)[1].split("```", 1)[0]
    commands = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return settings, [shlex.split(line) for line in commands.splitlines() if line.strip()]


def test_readme_fastapi_example_as_pasted_fails_on_exactly_the_usual_gaps(tmp_path: Path) -> None:
    settings, commands = readme_example()
    (export, assignment), run = commands[0], commands[1]
    assert export == "export" and run[:2] == ["mockauth", "contract"]
    variable, password = assignment.split("=", 1)
    assert password == FASTAPI_PASSWORD
    with serve("fastapi_app") as url:
        port = url.rsplit(":", 1)[1]
        (tmp_path / "mockauth-contract.toml").write_text(settings.replace(":8000", f":{port}"), encoding="utf-8")
        # As pasted, less some fuzzing (a test run is not a CI run), plus JUnit XML.
        result = mockauth_cli(
            *run[1:], "--max-examples", "10", "--seed", "7", "--junit-xml", "contract.xml",
            env={variable: password, "MOCKAUTH_CONTRACT_PASSWORD": ""}, cwd=tmp_path,
        )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert out.startswith(f"settings from {tmp_path / 'mockauth-contract.toml'}\n")
    # Exactly its gaps, each named once, and for each the gap it is.
    assert sorted(failed(out)) == sorted(FASTAPI_GAPS), out
    for name, words in FASTAPI_GAPS.items():
        assert words in details(out, name) or words in table_rows(out)[name][1], name
    # No noise from what it does not have: each operation it does not offer is named once,
    # the checks that need one are skipped saying so, and no failure is about them.
    for operation in ("refresh", "logout", "jwks", "openid_configuration", "health"):
        assert len(re.findall(rf"^  {operation} .* not offered \(--operations\)$", out, re.MULTILINE)) == 1
    assert table_rows(out)["refresh_rotates"] == ("SKIPPED", "needs refresh, not offered (--operations)")
    failures = out.split("\n\nFAILED ", 1)[1]
    assert "/auth/" not in failures and "/openapi.yaml" not in failures and "schema_run_errors" not in out
    # Every distinct schema failure is listed once, with its count.
    kinds = re.findall(r"^  \[\d+\] \d+x (.*)$", details(out, "response_schema_conformance"), re.MULTILINE)
    assert len(kinds) == len(set(kinds)) >= 2
    assert any('"sub" is a required property' in kind for kind in kinds)
    # The password is read from the variable in every curl line, never printed.
    assert password not in out.replace("Bearer", "").split("settings from", 1)[1].replace("secretpassword", "")
    assert "'password='\"$MOCKAUTH_CONTRACT_PASSWORD\"" in out
    summary = (tmp_path / "contract-summary.md").read_text(encoding="utf-8")
    assert summary.startswith(f"## ❌ mockauth contract: `http://127.0.0.1:{port}` does NOT conform")
    assert "| `status_code_conformance` | POST /token: Undocumented status code: Received: 422 |" in summary
    suite = ET.parse(tmp_path / "contract.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == str(len(FASTAPI_GAPS))


def test_a_compliant_flask_deployment_passes_with_zero_failures_and_no_noise(tmp_path: Path) -> None:
    from deployments.flask_app import expired_token

    (tmp_path / "pyproject.toml").write_text(FLASK_SETTINGS, encoding="utf-8")
    (tmp_path / "reports").mkdir()
    with serve("flask_app") as url:
        result = mockauth_cli(
            "contract", url, "--max-examples", "10", "--seed", "7", "--expired-token", expired_token(),
            env={"FLASK_PASSWORD": FLASK_PASSWORD}, cwd=tmp_path,
        )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert failed(out) == []
    rows = table_rows(out)
    # Skipped only where a check cannot apply to any auth API run as one user.
    skipped = {name for name, (status, _) in rows.items() if status == "SKIPPED" and name in (*AUTH_CHECK_NAMES, *SCHEMA_CHECKS)}
    assert skipped == {"use_after_free", "ensure_resource_availability", "object_level_authorization"}
    assert "  health                 GET /api/health                      offered" in out
    not_offered = re.findall(r"^  (\w+) .* not offered \(--operations\)$", out, re.MULTILINE)
    assert {"jwks", "openid_configuration"} <= set(not_offered)
    assert not {"login", "refresh", "me", "logout", "health"} & set(not_offered)
    assert "conforms: " in out and " 0 failed, " in out
    suite = ET.parse(tmp_path / "reports" / "contract.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"


def test_a_json_only_login_gets_a_content_type_hint_and_no_schema_run_errors(tmp_path: Path) -> None:
    with serve("flask_app") as url:
        result = mockauth_cli(
            "contract", url, "--username", FLASK_USER, "--operations", "login,me",
            "--path", "login=/api/login", "--path", "me=/api/profile",
            env={"MOCKAUTH_CONTRACT_PASSWORD": FLASK_PASSWORD}, cwd=tmp_path,
        )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert failed(out) == ["login_succeeds"]
    assert details(out, "login_succeeds").startswith(
        "logging in as a form (application/x-www-form-urlencoded) gave HTTP 415 unsupported_media_type, "
        "but as JSON (application/json) it worked: the deployment takes JSON logins only, where openapi.yaml "
        "allows form and JSON; pass --content-type json"
    )
    assert "are the username and password right?" not in out
    assert "schema_run_errors" not in out and "Token fetch" not in out
    # Every schema check skipped for the one reason: said once, for the whole table.
    assert "schema checks (schemathesis): all 14 SKIPPED: me needs a bearer token, but logging in failed " \
        "(see login_succeeds)" in out


def test_a_path_that_redirects_says_where_the_operation_lives(tmp_path: Path) -> None:
    # FastAPI redirects /users/me to /users/me/: the operation is elsewhere, and the hint says where.
    with serve("fastapi_app") as url:
        result = mockauth_cli(
            "contract", url, "--username", "johndoe", "--operations", "login,me", "--content-type", "form",
            "--path", "login=/token", "--path", "me=/users/me", "--no-schema",
            env={"MOCKAUTH_CONTRACT_PASSWORD": FASTAPI_PASSWORD}, cwd=tmp_path,
        )
    assert result.returncode == 1
    assert failed(result.stdout)[0] == "me_offered"
    assert details(result.stdout, "me_offered").startswith(
        f"GET /users/me answered 307, redirecting to {url}/users/me/: not offered? pass --operations without me, "
        "or --path me=/users/me/ if it lives elsewhere"
    )


def test_known_failures_are_set_apart_and_only_new_or_changed_ones_fail(tmp_path: Path) -> None:
    baseline = tmp_path / "contract-baseline.json"
    args = ["--username", "johndoe", "--operations", "login,me", "--path", "login=/token",
            "--path", "me=/users/me/", "--content-type", "form", "--no-schema", "--baseline", str(baseline)]
    env = {"MOCKAUTH_CONTRACT_PASSWORD": FASTAPI_PASSWORD}
    own_gaps = {name for name in FASTAPI_GAPS if not name.endswith("_conformance")}
    with serve("fastapi_app") as url:
        recorded = mockauth_cli("contract", url, *args, "--update-baseline", env=env, cwd=tmp_path)
        again = mockauth_cli("contract", url, *args, env=env, cwd=tmp_path)
        document = json.loads(baseline.read_text(encoding="utf-8"))
        entries = document["findings"]
        # Drift: a finding the baseline never had, and one whose answer changed since.
        document["findings"] = [e for e in entries if e["check"] != "token_no_store"]
        for entry in document["findings"]:
            if entry["check"] == "error_body_shape":
                entry["key"] = entry["key"].replace("(401)", "(403)")
        baseline.write_text(json.dumps(document), encoding="utf-8")
        drifted = mockauth_cli("contract", url, *args, env=env, cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    assert {entry["check"] for entry in entries} == own_gaps
    assert f"recorded {len(entries)} known failures in {baseline}" in recorded.stdout
    # The same deployment again: nothing new, every gap known and listed apart.
    assert again.returncode == 0, again.stdout
    assert failed(again.stdout) == []
    assert {name for name, (status, _) in table_rows(again.stdout).items() if status == "KNOWN"} == own_gaps
    assert "known failures (contract-baseline.json), reported apart and not failing the run:" in again.stdout
    assert "conforms (apart from known failures)" in again.stdout
    # Only what is new or changed fails; what the baseline had and the run did not meet is listed.
    assert drifted.returncode == 1
    assert sorted(failed(drifted.stdout)) == ["error_body_shape", "token_no_store"]
    unmet = drifted.stdout.split("known failures not met this run (fixed, or not checked this time):\n", 1)[1]
    assert unmet.startswith("  error_body_shape: an error answer (401)")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('bogus = 1\n', "mockauth-contract.toml: unknown key 'bogus'"),
        ('budget = "soon"\n', "mockauth-contract.toml: budget must be a positive number of seconds, not 'soon'"),
        ('operations = "login"\n', "mockauth-contract.toml: operations must be a list of operationIds"),
        ('username = "u"\npassword-env = "NO_SUCH_VARIABLE_HERE"\nurl = "http://127.0.0.1:9"\n',
         "mockauth-contract.toml (password-env): $NO_SUCH_VARIABLE_HERE is not set (or pass --password)"),
        ('username = "u"\nurl = "http://127.0.0.1:9"\noperations = ["login", "register"]\n',
         "mockauth-contract.toml (operations): 'register': no such operationId"),
        ('url = [\n', "mockauth-contract.toml: not valid TOML"),
        ('username = "u"\nurl = "http://127.0.0.1:9"\nclient-secret-env = "NO_SUCH_SECRET_HERE"\n',
         "mockauth-contract.toml (client-secret-env): $NO_SUCH_SECRET_HERE is not set (or pass --client-secret)"),
        ('client-id = ["a"]\n', "mockauth-contract.toml: client-id must be a string, not ['a']"),
    ],
)
def test_a_bad_settings_file_exits_2_naming_file_and_key(settings: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "mockauth-contract.toml").write_text(settings, encoding="utf-8")
    password = "" if "password-env" in settings else "x"
    result = mockauth_cli("contract", "--no-schema", env={"MOCKAUTH_CONTRACT_PASSWORD": password}, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_flags_override_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "mockauth-contract.toml").write_text(
        'url = "http://127.0.0.1:9"\nusername = "from-file"\noperations = ["login", "register"]\n', encoding="utf-8"
    )
    # The file's bad operation list is overridden by the flag, so the run gets as far as the URL.
    result = mockauth_cli(
        "contract", "--operations", "login", "--no-schema", env={"MOCKAUTH_CONTRACT_PASSWORD": "x"}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "mockauth contract: error: cannot reach http://127.0.0.1:9: connection refused"
