"""One options object, the same names at every entry point."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from mockauth import ConfigError, MockAuth, Settings
from mockauth._marker import parse_marker
from mockauth._settings import PasswordPolicy, parse_setting


def test_defaults_are_valid() -> None:
    assert Settings().algorithm == "HS256"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"algorithm": "none"}, "'algorithm'"),
        ({"secret": "x" * 31}, "at least 32 bytes"),
        ({"access_token_lifetime": 0}, "'access_token_lifetime': must be a positive number"),
        ({"access_token_lifetime": True}, "expected int"),
        ({"max_body_size": "big"}, "expected int"),
        ({"issuer": ""}, "'issuer': must not be empty"),
        ({"tls_cert": "server.pem"}, "'tls_cert': needs tls_key too"),
        ({"tls_key": "server-key.pem"}, "'tls_key': needs tls_cert too"),
        ({"tls": "yes"}, "'tls': expected bool"),
    ],
)
def test_bad_settings(values: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Settings(**values)  # type: ignore[arg-type]


def test_short_secret_is_fine_for_asymmetric_algorithms() -> None:
    assert Settings(algorithm="RS256", secret="x").secret == "x"


def test_unknown_keyword_to_mockauth() -> None:
    with pytest.raises(ConfigError, match="'colour': unknown"):
        MockAuth(colour="red")


def test_mockauth_keywords_are_settings() -> None:
    auth = MockAuth(**{name: getattr(Settings(), name) for name in Settings.names()})
    assert auth.settings == Settings()
    # The only keywords of MockAuth and from_fixtures that are not settings are these:
    assert set(inspect.signature(MockAuth).parameters) == {"users", "clients", "spec", "settings"}
    assert set(inspect.signature(MockAuth.from_fixtures).parameters) == {"path", "spec", "settings"}


def test_cli_text_is_parsed_into_the_settings_types() -> None:
    assert parse_setting("access_token_lifetime", "60") == 60
    assert parse_setting("mode_header", "off") is False
    with pytest.raises(ConfigError, match="expected true or false"):
        parse_setting("mode_header", "perhaps")
    with pytest.raises(ConfigError, match="whole number"):
        parse_setting("journal_size", "lots")


def test_public_settings_hide_the_secret() -> None:
    assert Settings().public()["secret"] == "[redacted]"


def test_your_own_certificate_means_https() -> None:
    assert not Settings().tls
    assert Settings(tls_cert="server.pem", tls_key="server-key.pem").tls
    assert parse_setting("tls", "true") is True


def test_the_password_policy_is_the_same_at_every_entry_point(tmp_path: Path) -> None:
    policy = PasswordPolicy(min_length=12, digits=1)
    rules = {"min_length": 12, "digits": 1}
    assert parse_setting("password_policy", "min_length=12, digits=1") == policy  # the flag
    assert MockAuth(password_policy=rules).settings.password_policy == policy  # the keyword
    path = tmp_path / "users.yaml"
    path.write_text("settings:\n  password_policy: {min_length: 12, digits: 1}\nusers: []\n")
    assert MockAuth.from_fixtures(path).settings.password_policy == policy  # the YAML key
    assert parse_marker({"password_policy": rules}, tmp_path).settings == {"password_policy": policy}
    assert str(policy) == "min_length=12,digits=1"
    assert Settings(password_policy=policy).public()["password_policy"] == {
        "min_length": 12, "uppercase": 0, "lowercase": 0, "digits": 1, "symbols": 0,
    }


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("min_length=twelve", "expected RULE=NUMBER"),
        ("colour=1", "unknown rule 'colour'"),
        ({"min_length": 0}, "min_length must be at least 1"),
        ({"digits": True}, "digits must be a whole number"),
        ({"symbols": 2000}, "symbols must be a whole number from 0 to 1024"),
        (["min_length"], "expected a mapping of rules"),
    ],
)
def test_bad_password_policies(value: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Settings(password_policy=value)  # type: ignore[arg-type]
