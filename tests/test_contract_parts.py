"""The contract runner's parts, in process: the spec rewritten for a deployment, curl lines
masked by field, the report's grouping, the baseline, a token_type in any case."""

from __future__ import annotations

import base64
import shlex
import subprocess
from pathlib import Path

import pytest
from contract_support import mockauth_cli, table_rows
from test_contract import PASSWORD, PATH_FLAGS, USER, TinyAuth

from mockauth import Contract, ContractError, Server
from mockauth._contract.baseline import Baseline
from mockauth._contract.client import curl_line, shown_request
from mockauth._contract.operations import resolve
from mockauth._contract.report import ContractReport
from mockauth._contract.results import CheckResult, Finding
from mockauth._spec import load_spec


def test_mock_only_operations_are_marked_in_the_spec_and_never_offered() -> None:
    spec = load_spec()
    assert {op.operation_id for op in spec.operations if op.mock_only} == {
        "openapi", *(op.operation_id for op in spec.operations if op.control)
    }
    operations = resolve(None)  # by default, the operations tagged auth
    assert {"login", "refresh", "me", "logout"} <= set(operations.offered)
    assert all("auth" in op.tags for op in spec.operations if op.operation_id in operations.offered)
    assert {"jwks", "openid_configuration", "health"} <= {e.operation for e in operations.not_offered}
    assert "openapi" not in {*operations.offered, *(e.operation for e in operations.not_offered)}


def test_the_spec_is_rewritten_for_the_deployment() -> None:
    operations = resolve(None, ["login", "me", "health"], {"login": "/token", "me": "/users/me/"}, "form")
    document = operations.document()
    assert set(document["paths"]) == {"/token", "/users/me/", "/health"}
    login = document["paths"]["/token"]["post"]
    assert login["operationId"] == "login"
    assert list(login["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    links = document["components"]["responses"]["Token"]["links"]
    assert {link["operationId"] for link in links.values()} == {"me"}  # refresh and logout are not offered
    assert operations.offered["me"].bearer and not operations.offered["login"].bearer
    # The spec itself is untouched for the next run.
    assert set(load_spec().document["components"]["responses"]["Token"]["links"]) == {"Me", "Refresh", "Logout"}


def test_curl_lines_read_the_password_by_field() -> None:
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    line = curl_line("POST", "http://h/token", form, b"username=u&password=secret", "secret")
    assert shlex.split(line)[-1] == "password=$MOCKAUTH_CONTRACT_PASSWORD"
    # A value that merely contains the password is sent as it was, not as "***password".
    example = curl_line("POST", "http://h/token", form, b"username=u&password=secretpassword", "secret")
    assert shlex.split(example)[-1] == "password=secretpassword"
    as_json = [("Content-Type", "application/json")]
    line = curl_line("POST", "http://h/token", as_json, b'{"username": "secret", "password": "secret"}', "secret")
    result = subprocess.run(
        ["bash", "-c", f"MOCKAUTH_CONTRACT_PASSWORD=s3cret; set -- {line.removeprefix('curl ')}; echo \"${{@: -1}}\""],
        capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == '{"username": "secret", "password": "s3cret"}'  # the variable, expanded
    assert "secret" in shown_request("POST", "http://h", as_json, b'{"username": "secret", "password": "x"}', "secret")[-1]


def _row(name: str, *keys: str) -> CheckResult:
    findings = tuple(Finding(key, f"GET /me: {key}", 3, (f"      evidence of {key}",)) for key in keys)
    return CheckResult(name, "schema", "a check", "failed", f"{len(keys)} distinct failures", findings)


def test_every_distinct_failure_is_listed_and_counted_even_when_examples_are_shortened() -> None:
    report = ContractReport("http://h", results=[_row("response_schema_conformance", "a", "b", "c")])
    text = report.details(max_shown=1)
    assert [line for line in text.splitlines() if line.startswith("  [")] == [
        "  [1] 3x GET /me: a", "  [2] 3x GET /me: b", "  [3] 3x GET /me: c",
    ]
    assert "evidence of a" in text and "evidence of b" not in text
    assert text.count("(example not shown: 1 shown per check)") == 2
    assert "evidence of c" in report.details()


def test_a_baseline_keeps_known_failures_apart(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    Baseline.write(path, "http://h", [_row("response_schema_conformance", "a", "b")])
    report = ContractReport("http://h", results=[_row("response_schema_conformance", "a", "b", "c")])
    report.apply_baseline(Baseline.read(path))
    row = report.result("response_schema_conformance")
    assert row.status == "failed" and [f.key for f in row.findings] == ["c"] and [f.key for f in row.known] == ["a", "b"]
    assert report.exit_code == 1
    settled = ContractReport("http://h", results=[_row("response_schema_conformance", "b")])
    settled.apply_baseline(Baseline.read(path))
    assert settled.result("response_schema_conformance").status == "known"
    assert settled.exit_code == 0
    assert settled.unseen() == ["response_schema_conformance: GET /me: a"]


@pytest.mark.parametrize("text", ["{", '{"format": "something-else"}', '{"format": "mockauth-contract-baseline"}'])
def test_a_bad_baseline_is_refused_naming_it(text: str, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match=r"baseline: .*baseline\.json"):
        Contract("http://127.0.0.1:9", username="u", password="p", baseline=path, schema=False)


def test_token_type_bearer_in_any_case_passes_both_the_auth_and_the_schema_check() -> None:
    # One rule, applied in both places: RFC 6749 5.1 makes token_type case-insensitive.
    # (The schema phase in a process of its own, as a user runs it: see contract_test's test.)
    with Server(TinyAuth(token_type="Bearer")) as server:
        result = mockauth_cli(
            "contract", server.url, "--username", USER, "--password", PASSWORD, *PATH_FLAGS,
            "--max-examples", "3", "--seed", "4",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["token_type_bearer"][0] == rows["response_schema_conformance"][0] == "PASSED"


def test_every_secret_is_read_from_its_variable_in_curl_lines_and_shown_requests() -> None:
    secrets = {"s3cret": "MOCKAUTH_CONTRACT_PASSWORD", "cl!ent'secret": "MOCKAUTH_CONTRACT_CLIENT_SECRET",
               "n3w-password": "MOCKAUTH_CONTRACT_NEW_PASSWORD"}
    basic = "Basic " + base64.b64encode(b"my-client:cl%21ent%27secret").decode()  # form-encoded (RFC 6749 2.3.1)
    headers = [("Authorization", basic), ("Content-Type", "application/x-www-form-urlencoded")]
    body = b"grant_type=password&username=u&password=s3cret&new_password=n3w-password&scope=s3cret"
    line = curl_line("POST", "http://h/token", headers, body, secrets)
    environment = {"MOCKAUTH_CONTRACT_PASSWORD": "s3cret", "MOCKAUTH_CONTRACT_CLIENT_SECRET": "cl!ent'secret",
                   "MOCKAUTH_CONTRACT_NEW_PASSWORD": "n3w-password"}
    words = subprocess.run(
        ["bash", "-c", f"set -- {line.removeprefix('curl ')}; printf '%s\\n' \"$@\""],
        capture_output=True, text=True, check=True, env=environment,
    ).stdout.splitlines()
    # The shell expands each variable back to the value sent; only fields that hold a secret read one.
    assert "my-client:cl!ent'secret" in words and "password=s3cret" in words and "new_password=n3w-password" in words
    assert "scope=s3cret" in words and "s3cret" not in line.replace("scope=s3cret", "")
    assert "cl!ent" not in line and "n3w-password" not in line
    shown = "\n".join(shown_request("POST", "http://h/token", headers, body, secrets))
    assert "Authorization: Basic base64(my-client:$MOCKAUTH_CONTRACT_CLIENT_SECRET)" in shown
    assert "password=$MOCKAUTH_CONTRACT_PASSWORD" in shown and "new_password=$MOCKAUTH_CONTRACT_NEW_PASSWORD" in shown
