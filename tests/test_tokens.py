from __future__ import annotations

import os
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


def test_random_tokens_are_as_long_as_secrets_makes_them_and_never_repeat() -> None:
    import secrets

    from mockauth import _random

    drawn = [_random.token_urlsafe(16) for _ in range(3 * _random.BLOCK // 16)]  # three blocks
    assert {len(token) for token in drawn} == {len(secrets.token_urlsafe(16))}
    assert len(set(drawn)) == len(drawn)
    assert len(_random.token_bytes(_random.BLOCK + 1)) == _random.BLOCK + 1  # more than a block


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_never_hands_out_its_parents_bytes() -> None:
    # A gunicorn worker is a fork of the process that built the app: were the unused rest
    # of the parent's block copied into it, two workers would issue the same tokens.
    from mockauth import _random

    _random.token_bytes(1)  # the parent holds a block with unused bytes
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: whatever happens, it leaves here and never runs the suite on
        try:
            os.write(writer, _random.token_bytes(64))
        finally:
            os._exit(0)
    os.close(writer)
    child = os.read(reader, 64)
    os.close(reader)
    os.waitpid(pid, 0)
    assert len(child) == 64
    assert child != _random.token_bytes(64)
