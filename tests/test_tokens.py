from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from mockauth import ConfigError, MockAuth
from mockauth._state.tokens import TokenError


def test_key_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("not a key")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        MockAuth(algorithm="RS256", key_file=str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        MockAuth(algorithm="RS256", key_file=str(path) + ".missing")


def test_tokens_of_one_mock_are_refused_by_another_with_its_own_key() -> None:
    first, second = MockAuth(algorithm="RS256"), MockAuth(algorithm="RS256")
    with pytest.raises(TokenError, match="signature"):
        second.tokens.verify(first.tokens.access_token(first.add_user({"username": "a", "password": "p"}))[0])


def test_kid_is_stable_for_a_key() -> None:
    auth = MockAuth(algorithm="ES256")
    token = auth.tokens.access_token(auth.add_user({"username": "a", "password": "p"}))[0]
    assert jwt.get_unverified_header(token)["kid"] == auth.tokens.keys.kid == auth.tokens.keys.jwks()["keys"][0]["kid"]
