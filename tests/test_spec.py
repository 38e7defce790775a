from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from mockauth import MODES, MockAuth, ModeError, SpecError, default_spec_path
from mockauth._app import LATER, auth_api
from mockauth._fixtures import user_arming
from mockauth._modes import API_OPERATIONS
from mockauth._spec import CONTROL_TAG, load_spec


def test_the_spec_is_valid_openapi() -> None:
    validate(yaml.safe_load(default_spec_path().read_text()))


def test_every_operation_has_a_handler_and_back() -> None:
    spec = load_spec()
    routed = set(auth_api.ROUTES) | {operation for operations in LATER.values() for operation in operations}
    assert {op.operation_id for op in spec.operations} == routed


@pytest.mark.parametrize("module", sorted(LATER))
def test_a_module_loaded_later_serves_what_the_table_says(module: str) -> None:
    # The app imports it on the first request for one of these operations: an operation
    # missing from its row would be routed to nothing, one too many to the wrong module.
    assert set(importlib.import_module(f"mockauth._app.{module}").ROUTES) == set(LATER[module])


def test_a_login_loads_no_other_api_module() -> None:
    code = (
        "import sys; from mockauth import MockAuth, User\n"
        "auth = MockAuth([User('sam', 'pw')])\n"
        "assert auth.test_client().post('/auth/login', data={'username': 'sam', 'password': 'pw'}).status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.startswith('mockauth._app.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "mockauth._app.auth_api" in loaded
    for module in LATER:
        assert f"mockauth._app.{module}" not in loaded


def test_auth_operations_are_not_control_and_control_ones_are() -> None:
    spec = load_spec()
    auth_ops = {op.operation_id for op in spec.operations if not op.control}
    assert auth_ops == {
        "login", "refresh", "me", "logout", "jwks", "openid_configuration", "health", "openapi", "mfa", "password",
        "oauth_authorization_server", "authorize", "authorize_login", "token", "userinfo", "userinfo_post",
        "introspect", "revoke", "end_session", "end_session_post",
    }
    assert all(op.path.startswith("/_mockauth/") for op in spec.operations if CONTROL_TAG in op.tags)


def test_the_spec_keeps_the_original_documents_examples() -> None:
    document = load_spec().document
    login = document["paths"]["/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/x-www-form-urlencoded"]["example"] == {
        "username": "user@example.com", "password": "secretpassword",
    }
    token_example = document["components"]["responses"]["Token"]["content"]["application/json"]["example"]
    assert token_example["token_type"] == "bearer" and token_example["access_token"].startswith("eyJhbGciOiJIUzI1NiIs")
    links = document["components"]["responses"]["Token"]["links"]
    assert {link["operationId"] for link in links.values()} == {"me", "refresh", "logout"}


def test_a_spec_with_an_operation_mockauth_cannot_answer(tmp_path: Path) -> None:
    document = yaml.safe_load(default_spec_path().read_text())
    document["paths"]["/auth/register"] = {"post": {"operationId": "register", "responses": {"200": {"description": "ok"}}}}
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SpecError, match="no handler in mockauth: register"):
        MockAuth(spec=path)


@pytest.mark.parametrize(("text", "words"), [
    ("paths: [", "invalid YAML"),
    ("openapi: 3.0.3\n", "no 'paths' mapping"),
    ("# A README\nSome words\nand: more\n", r"invalid YAML \(line 3, column 4\): mapping values are not allowed"),
])
def test_broken_specs_are_one_line(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=words) as error:
        load_spec(path)
    assert "\n" not in str(error.value)  # PyYAML's own text spans four lines
    for wrong, why in [(tmp_path / "missing.yaml", "No such file"), (tmp_path, "Is a directory")]:
        with pytest.raises(SpecError, match=f"cannot read the OpenAPI document: {why}"):
            load_spec(wrong)
    (tmp_path / "binary.yaml").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(SpecError, match="not UTF-8 text"):
        load_spec(tmp_path / "binary.yaml")


# -- the control API's schemas say exactly what the mode table accepts ------------------

_OPTION_VALUE = r"(?:[0-9]{1,4}|[1-7][0-9]{4}|8[0-5][0-9]{3}|86[0-3][0-9]{2})(?:\.[0-9]{1,3})?|86400"


def _mode_groups() -> dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]]:
    """Modes by (the operations they apply to, their options), in table order."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for mode in MODES.values():
        key = (tuple(op for op in API_OPERATIONS if op in mode.operations), tuple(mode.options))
        groups.setdefault(key, []).append(mode.name)
    return groups


def user_mode_pattern() -> str:
    """The pattern of a user's `mode:` as the mode table defines it."""
    parts = []
    for (operations, options), names in _mode_groups().items():
        keys = [
            f"operation=(?:{'|'.join(operations)})", "times=[1-9][0-9]{0,8}",
            r"probability=(?:0(?:\.[0-9]{1,6})?|1)", "seed=-?[0-9]{1,18}",
            *(f"{option}=(?:{_OPTION_VALUE})" for option in options),
        ]
        parts.append(f"(?:{'|'.join(names)})(?::(?:{'|'.join(keys)}))*")
    return "^(?:" + "|".join(parts) + ")$"


def test_the_user_mode_pattern_is_the_mode_table() -> None:
    schemas = load_spec(default_spec_path()).document["components"]["schemas"]
    assert schemas["UserMode"]["pattern"] == user_mode_pattern(), "openapi.yaml: UserMode.pattern is out of date"


def test_each_arming_branch_is_the_mode_table() -> None:
    request = load_spec(default_spec_path()).document["components"]["schemas"]["ArmRequest"]
    branches = {
        (tuple(b["properties"]["operation"]["enum"][:-1]), tuple(b["properties"]["options"].get("properties", {}))):
        b["properties"]["name"]["enum"]
        for b in request["oneOf"]
    }
    assert branches == _mode_groups()
    assert all(b["additionalProperties"] is False for b in request["oneOf"])


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.from_regex(user_mode_pattern(), fullmatch=True))
def test_every_user_mode_the_pattern_allows_is_accepted(mode: str) -> None:
    user_arming(mode, "ann")  # raises ModeError for anything the server would refuse


@pytest.mark.parametrize("mode", ["slow:times=0", "slow:delay=86401", "nope", "invalid_token:operation=login", "slow:user=x", "slow:dealy=1"])
def test_what_the_pattern_refuses_the_server_refuses(mode: str) -> None:
    assert re.fullmatch(user_mode_pattern(), mode) is None
    with pytest.raises(ModeError):
        user_arming(mode, "ann")


# -- rewriting those schemas after the mode table changed ---------------------------------


def _arm_branches() -> str:
    """ArmRequest's `properties` and `oneOf`, as openapi.yaml writes them."""
    names = [name for group in _mode_groups().values() for name in group]
    lines = ["      properties:", "        name:", "          type: string", f"          enum: [{', '.join(names)}]", "      oneOf:"]
    for (operations, options), group in _mode_groups().items():
        if options:
            option_schema = ", ".join(f"{o}: {{type: number, minimum: 0, maximum: 86400}}" for o in options)
            options_line = f"{{type: object, additionalProperties: false, properties: {{{option_schema}}}}}"
        else:
            options_line = "{type: object, additionalProperties: false, maxProperties: 0}"
        lines += [
            "        - type: object",
            "          additionalProperties: false",
            "          required: [name]",
            "          properties:",
            f"            name: {{type: string, enum: [{', '.join(group)}]}}",
            f"            operation: {{type: string, nullable: true, enum: [{', '.join(operations)}, null]}}",
            "            user: {$ref: '#/components/schemas/ArmUser'}",
            "            times: {$ref: '#/components/schemas/ArmTimes'}",
            "            probability: {$ref: '#/components/schemas/ArmProbability'}",
            "            seed: {$ref: '#/components/schemas/ArmSeed'}",
            f"            options: {options_line}",
        ]
    return "\n".join(lines) + "\n"


def write_mode_schemas(path: Path) -> None:
    """Rewrite UserMode.pattern and ArmRequest's branches of `path` from the mode table."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(
        r"(    UserMode:\n(?:      .*\n)*?      pattern: ).*\n",
        lambda m: m.group(1) + "'" + user_mode_pattern().replace("'", "''") + "'\n", text,
    )
    text = re.sub(
        r"(    ArmRequest:\n(?:      (?!properties:).*\n)*?)      properties:\n(?:        .*\n|          .*\n)*?      oneOf:\n(?:        .*\n)*",
        lambda m: m.group(1) + _arm_branches(), text,
    )
    path.write_text(text, encoding="utf-8")
    yaml.safe_load(text)


if __name__ == "__main__":
    # After a change to the mode table: python tests/test_spec.py (rewrites openapi.yaml).
    write_mode_schemas(Path(__file__).resolve().parent.parent / "openapi.yaml")


def test_the_redirect_uri_pattern_is_the_servers() -> None:
    from mockauth._clients import REDIRECT_URI

    schemas = load_spec(default_spec_path()).document["components"]["schemas"]
    assert schemas["RedirectUri"]["pattern"] == REDIRECT_URI


def test_route_everything_loads_every_module_a_request_would() -> None:
    code = (
        "import sys; from mockauth import MockAuth\n"
        "MockAuth().app.route_everything()\n"
        "print(sorted(m for m in sys.modules if m.startswith('mockauth._app.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    for module in LATER:
        assert f"mockauth._app.{module}" in loaded
