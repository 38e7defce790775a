"""Fixture files: the format, and one clear error per mistake naming file, entry and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockauth import FixtureError, MockAuth, User, default_fixtures_path, load_fixtures


def write(tmp_path: Path, text: str, name: str = "users.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_fixtures() -> None:
    fixtures = load_fixtures(default_fixtures_path())
    users = {u.username: u for u in fixtures.users}
    assert users["user@example.com"].password == "secretpassword"
    assert users["admin"].email == "admin@example.com"
    assert users["locked@example.com"].locked and users["disabled@example.com"].disabled
    assert users["slow@example.com"].mode == "slow:delay=2"
    assert fixtures.settings["algorithm"] == "HS256"


def test_a_folder_of_files_is_merged(tmp_path: Path) -> None:
    write(tmp_path, "users:\n  - {username: a, password: pw}\n", "a.yaml")
    write(tmp_path, "settings: {issuer: me}\nusers:\n  - {username: b, password: pw, claims: {roles: [x]}}\n", "b.yml")
    write(tmp_path, "not yaml at all: [", "notes.txt")
    auth = MockAuth.from_fixtures(tmp_path)
    assert set(auth.users) == {"a", "b"}
    assert auth.settings.issuer == "me"


def test_keyword_settings_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "settings: {issuer: file}\nusers: []\n")
    assert MockAuth.from_fixtures(path, issuer="keyword").settings.issuer == "keyword"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users:\n  - {username: a}\n", "users[0] (a): password: required"),
        ("users:\n  - {password: pw}\n", "users[0]: username: required"),
        ("users:\n  - {username: a, password: 5}\n", "users[0] (a): password: must be a non-empty string, got the number 5"),
        ("users:\n  - {username: a, password: ''}\n", "users[0] (a): password: must be a non-empty string"),
        ("users:\n  - {username: a, password: pw, locked: maybe}\n", "users[0] (a): locked: must be true or false"),
        ("users:\n  - {username: a, password: pw, claims: [1]}\n", "users[0] (a): claims: must be a mapping"),
        ("users:\n  - {username: a, password: pw, claims: {exp: 1}}\n", "users[0] (a): claims.exp: reserved"),
        ("users:\n  - {username: a, password: pw, claims: {when: 2024-01-01}}\n", "users[0] (a): claims: a date is not a JSON value"),
        ("users:\n  - {username: a, password: pw, mode: explode}\n", "users[0] (a): mode: unknown mode 'explode'"),
        ("users:\n  - {username: a, password: pw, colour: red}\n", "users[0] (a): colour: unknown field"),
        ("users:\n  - {username: a, password: pw, mfa: yes}\n", "users[0] (a): mfa: must be a mapping like {totp_secret: JBSWY3DPEHPK3PXP}"),
        ("users:\n  - {username: a, password: pw, mfa: {}}\n", "users[0] (a): mfa: needs totp_secret, code or both"),
        ("users:\n  - {username: a, password: pw, mfa: {totp: X}}\n", "users[0] (a): mfa.totp: unknown (keys: totp_secret, code)"),
        ("users:\n  - {username: a, password: pw, mfa: {totp_secret: not-base32!}}\n", "users[0] (a): mfa.totp_secret: must be an RFC 6238 secret in base32"),
        ("users:\n  - {username: a, password: pw, mfa: {totp_secret: ABCDEFGH}}\n", "mfa.totp_secret: must be an RFC 6238 secret in base32 (A-Z and 2-7) of at least 80 bits"),
        ("users:\n  - {username: a, password: pw, mfa: {code: 123456}}\n", 'users[0] (a): mfa.code: must be 6 digits in quotes, like "123456", got the number 123456'),
        ("users:\n  - {username: a, password: pw, mfa: {code: '12ab56'}}\n", "users[0] (a): mfa.code: must be 6 digits in quotes"),
        ("users:\n  - {username: a, password: pw, password_expired: soon}\n", "users[0] (a): password_expired: must be true or false"),
        ("settings: {password_policy: {min_length: 12, colour: 1}}\nusers: []\n", "setting 'password_policy': unknown rule 'colour'"),
        ("settings: {password_policy: {digits: -1}}\nusers: []\n", "setting 'password_policy': digits must be a whole number from 0 to 1024"),
        ("settings: {password_policy: 12}\nusers: []\n", "setting 'password_policy': expected a mapping of rules"),
        ("settings: {mfa_max_attempts: 0}\nusers: []\n", "setting 'mfa_max_attempts': must be a positive number"),
        ("users:\n  - {username: a, password: pw}\n  - {username: a, password: pw}\n", "users[1] (a): username: 'a' is already defined"),
        ("users:\n  - just a string\n", "users[0]: expected a mapping"),
        ("users: {a: b}\n", "users: must be a list of users"),
        ("settings: {algorithm: XX}\nusers: []\n", "settings: setting 'algorithm'"),
        ("settings: {colour: red}\nusers: []\n", "settings: 'colour': unknown"),
        ("settings: {access_token_lifetime: soon}\nusers: []\n", "setting 'access_token_lifetime': expected int"),
        ("settings: {secret: short}\nusers: []\n", "at least 32 bytes"),
        ("settings: [1]\n", "settings: must be a mapping"),
        ("people: []\n", "people: unknown top-level key"),
        ("- a\n- b\n", "expected a mapping with 'users:' and 'settings:'"),
        ("users: [\n", "invalid YAML (line 2, column 1)"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FixtureError) as caught:
        load_fixtures(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_missing_path_empty_folder_and_binary(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="no such file or folder"):
        load_fixtures(tmp_path / "missing.yaml")
    with pytest.raises(FixtureError, match=r"no \.yaml or \.yml files"):
        load_fixtures(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FixtureError, match="not UTF-8"):
        load_fixtures(binary)


def test_empty_file_means_no_users(tmp_path: Path) -> None:
    assert load_fixtures(write(tmp_path, "")).users == ()


def test_user_objects_are_checked_too() -> None:
    with pytest.raises(Exception, match="password: must be a non-empty string"):
        User("ann", "")
    assert "pw" not in repr(User("ann", "pw"))
