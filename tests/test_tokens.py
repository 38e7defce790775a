from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from mockauth import ConfigError, MockAuth
from mockauth._state.tokens import TokenError


def test_revoked_refresh_family_and_pruning_keep_memory_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import mockauth._state.stores.tokens as store_module

    monkeypatch.setattr(store_module, "PRUNE_EVERY", 10)
    monkeypatch.setattr(store_module, "MAX_REFRESH_TOKENS", 5)
    auth = MockAuth.from_fixtures()
    assert isinstance(auth.stores.tokens, store_module.MemoryTokenStore)
    user = auth.user("user@example.com")
    answers = [auth.tokens.token_response(user) for _ in range(30)]
    assert len(auth.stores.tokens._refresh) <= 10
    # The newest refresh token still works; the oldest was dropped past the cap.
    assert auth.tokens.rotate(answers[-1]["refresh_token"])[0] == "user@example.com"
    with pytest.raises(TokenError):
        auth.tokens.rotate(answers[0]["refresh_token"])


def test_expired_tokens_are_forgotten_when_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    import mockauth._state.stores.tokens as store_module

    monkeypatch.setattr(store_module, "PRUNE_EVERY", 5)
    auth = MockAuth.from_fixtures(refresh_token_lifetime=10, access_token_lifetime=10)
    assert isinstance(auth.stores.tokens, store_module.MemoryTokenStore)
    user = auth.user("user@example.com")
    first = auth.tokens.token_response(user)
    auth.tokens.revoke(auth.tokens.verify(first["access_token"]))
    for _ in range(3):
        auth.tokens.token_response(user)
    auth.clock.advance(11)
    auth.tokens.token_response(user)
    assert len(auth.stores.tokens._refresh) == 1
    assert not auth.stores.tokens._revoked_jtis and not auth.stores.tokens._revoked_families


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
