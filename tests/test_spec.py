from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from mockauth import MockAuth, SpecError, default_spec_path
from mockauth._app import ROUTES
from mockauth._spec import CONTROL_TAG, load_spec


def test_the_spec_is_valid_openapi() -> None:
    validate(yaml.safe_load(default_spec_path().read_text()))


def test_every_operation_has_a_handler_and_back() -> None:
    spec = load_spec()
    assert {op.operation_id for op in spec.operations} == set(ROUTES)


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


@pytest.mark.parametrize(("text", "words"), [("paths: [", "invalid YAML"), ("openapi: 3.0.3\n", "no 'paths' mapping")])
def test_broken_specs(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=words):
        load_spec(path)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
