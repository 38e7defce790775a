"""Hypothesis properties: the fixture loader fails only with FixtureError, and no change
to a valid token's bytes gets past verification."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mockauth import FixtureError, MockAuth, User, default_fixtures_path, load_fixtures
from mockauth._state.tokens import TokenError

SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

VALID = (default_fixtures_path() / "users.yaml").read_text(encoding="utf-8")

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["HS256", "RS256", "ES256", "user@example.com", "slow:delay=2", "nope:x"]),
)
_keys = st.one_of(
    st.sampled_from(
        [
            "users",
            "settings",
            "username",
            "password",
            "email",
            "claims",
            "locked",
            "disabled",
            "mode",
            "secret",
            "algorithm",
            "issuer",
            "audience",
            "access_token_lifetime",
            "journal_size",
            "max_body_size",
            "key_file",
            "sub",
            "exp",
        ]
    ),
    st.text(max_size=8),
)
_documents = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=25,
)


def _load(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.yaml"
        path.write_bytes(data)
        message = str(path)  # a FixtureError names the file; anything else fails the test
        try:
            load_fixtures(path)
        except FixtureError as error:
            message = str(error)
        assert message.startswith(str(path))


@SETTINGS
@given(st.binary(max_size=300))
@example(b"\xff\xfe\x00")
@example(b"users: [" * 2000)
@example(b"&a [*a, *a]")
@example(b"settings: {secret: short}")
@example(b"!!python/object/apply:os.system ['true']")
def test_arbitrary_bytes_raise_only_fixture_error(data: bytes) -> None:
    _load(data)


@SETTINGS
@given(st.text(max_size=300))
@example("users:\n  - username: a\n    password: b\n    created: 2001-12-14\n")
@example("users:\n  - {username: a, password: b, claims: {when: 2001-12-14}}\n")
@example("settings: {journal_size: 1e400}\n")
def test_arbitrary_text_raises_only_fixture_error(text: str) -> None:
    _load(text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(_documents)
def test_arbitrary_yaml_documents_raise_only_fixture_error(document: object) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.integers(min_value=0, max_value=len(VALID) - 1), st.text(max_size=6), st.integers(0, 6))
def test_mutated_valid_fixture_raises_only_fixture_error(at: int, insert: str, delete: int) -> None:
    mutated = VALID[:at] + insert + VALID[at + delete :]
    _load(mutated.encode("utf-8", "surrogatepass"))


# -- token mutation --------------------------------------------------------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\x00!"


@pytest.fixture(scope="module", params=["HS256", "RS256", "ES256"])
def signed(request: pytest.FixtureRequest) -> tuple[MockAuth, str]:
    secret = "a-test-secret-that-is-long-enough-for-hs256"
    auth = MockAuth([User("ann", "pw")], algorithm=request.param, secret=secret)
    return auth, auth.issue_token("ann")


_mutations = st.one_of(
    st.tuples(st.just("replace"), st.integers(min_value=0), st.sampled_from(_ALPHABET)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.sampled_from(_ALPHABET)),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.just("")),
    st.tuples(st.just("swap"), st.integers(min_value=0), st.just("")),
)


def _mutate(token: str, mutation: tuple[str, int, str]) -> str:
    kind, position, char = mutation
    at = position % len(token)
    if kind == "replace":
        return token[:at] + char + token[at + 1 :]
    if kind == "insert":
        return token[:at] + char + token[at:]
    if kind == "delete":
        return token[:at] + token[at + 1 :]
    other = (at + 1) % len(token)
    chars = list(token)
    chars[at], chars[other] = chars[other], chars[at]
    return "".join(chars)


@settings(SETTINGS, max_examples=400)
@given(st.lists(_mutations, min_size=1, max_size=3))
def test_any_change_to_a_token_is_refused(
    signed: tuple[MockAuth, str], mutations: list[tuple[str, int, str]]
) -> None:
    auth, token = signed
    assert auth.tokens.verify(token)["sub"] == "ann"
    mutated = token
    for mutation in mutations:
        mutated = _mutate(mutated, mutation)
    assume(mutated != token)
    with pytest.raises(TokenError):
        auth.tokens.verify(mutated)


def test_last_character_of_the_signature_cannot_be_respelled() -> None:
    # The last base64url character of a 32-byte HMAC carries 2 unused bits: four
    # spellings decode to the same bytes. Only the canonical one is accepted.
    auth = MockAuth([User("ann", "pw")], secret="a-test-secret-that-is-long-enough-for-hs256")
    token = auth.issue_token("ann")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(token[-1])
    respelled = [token[:-1] + alphabet[(index & ~3) | low] for low in range(4)]
    accepted = []
    for candidate in respelled:
        try:
            auth.tokens.verify(candidate)
            accepted.append(candidate)
        except TokenError:
            pass
    assert accepted == [token]
