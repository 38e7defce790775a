"""Hypothesis properties: the fixture loader fails only with FixtureError, no change to a
valid token's bytes gets past verification, and any request to any operation, with or
without a mode armed, gets a JSON answer and raises nothing inside the app."""

from __future__ import annotations

import json
import re
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


# -- every operation, any input, each mode ---------------------------------------------
#
# Arbitrary JSON (lone surrogates, NaN, Infinity, 1e400, numbers past 64 bits and past
# what Python reads, deep nesting), arbitrary bytes under each content type, arbitrary
# headers and query values, to every operation of openapi.yaml in-process, with no mode
# and with each mode armed: never a 5xx but a mode's own, always a JSON body where the
# spec promises one, nothing raised inside the app.

from urllib.parse import quote  # noqa: E402

from mockauth import MODES, Disconnected, default_spec_path  # noqa: E402
from mockauth._doors.inprocess import call_app  # noqa: E402
from mockauth._spec import Operation, load_spec  # noqa: E402

_ROBUST = MockAuth.from_fixtures()
_OPERATIONS = load_spec(default_spec_path()).operations
_FIELDS = [
    "username", "password", "refresh_token", "name", "operation", "user", "times", "probability",
    "seed", "options", "action", "seconds", "at", "email", "claims", "locked", "disabled", "mode",
    "expires_in", "token", "retry_after", "delay", "sub", "exp",
]
# Numbers as JSON text: what json.loads turns into infinity, or cannot read at all.
_RAW_NUMBERS = ["1e400", "-1e400", "1E+999", "-0", "1e-400", "9" * 30, "-" + "9" * 25, "1" * 4500, "NaN", "Infinity"]


class _Raw(str):
    """JSON text put in a document as it is."""


def _render(value: object) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_render(k)}:{_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_render(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=True, allow_nan=True)  # "\ud800" escapes, NaN


_surrogates = st.sampled_from(["\ud800", "a\udfffb", "\udbff\u00e9", "user@example.com\ud800"])
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    _surrogates,  # lone surrogates: "\ud800" in the JSON text
    st.sampled_from(["user@example.com", "secretpassword", "admin", "slow:delay=0", "login", "advance", "set"]),
    st.sampled_from(_RAW_NUMBERS).map(_Raw),
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(_FIELDS), st.text(max_size=5)), children, max_size=4),
    ),
    max_leaves=12,
)
_deep = st.integers(min_value=1, max_value=5000).map(lambda n: _Raw("[" * n + "]" * n))



def _fields_of(operation: Operation) -> list[str]:
    """The body fields openapi.yaml names for an operation (any branch of a oneOf)."""
    spec = load_spec(default_spec_path())
    item = spec.document["paths"][operation.path][operation.method.lower()]
    found: list[str] = []

    def walk(schema: object) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            walk(spec.document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
        found.extend(schema.get("properties", {}))
        for branch in schema.get("oneOf", []) + schema.get("allOf", []):
            walk(branch)

    for media in item.get("requestBody", {}).get("content", {}).values():
        walk(media.get("schema"))
    return sorted(set(found)) or _FIELDS


def _bodies(fields: list[str]) -> st.SearchStrategy[tuple[str, str]]:
    values = st.one_of(_json_scalars, _json_values, _deep)
    named = st.builds(
        lambda own, other: {**other, **own},
        st.fixed_dictionaries({}, optional={field: values for field in fields}),
        st.dictionaries(st.sampled_from(_FIELDS), values, max_size=3),
    )
    json_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "application/problem+json"])
    form = named.map(lambda body: "&".join(f"{quote(k)}={quote(_render(v))}" for k, v in body.items()))
    anything = st.one_of(_json_values.map(_render), st.binary(max_size=60).map(lambda data: data.decode("latin-1")))
    return st.one_of(
        st.tuples(json_types, named.map(_render)),
        st.tuples(st.just("application/x-www-form-urlencoded"), form),
        st.tuples(_content_types, anything),
    )


# A token the mock signed over claims no JSON answer can hold: verifying and reading it
# must refuse it, never fail.
_FORGED = _ROBUST.tokens.keys.sign(
    {"sub": "\ud800", "exp": float("nan"), "iat": float("inf"), "jti": "x", "iss": "mockauth", "aud": "mockauth"}
)
_tokens = st.one_of(st.just(_FORGED), st.just(_ROBUST.issue_token("user@example.com")), st.text(max_size=30))
_header_text = st.binary(max_size=40).map(lambda data: data.decode("latin-1").replace("\r", "").replace("\n", ""))
_content_types = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "", "text/plain", "application/problem+json",
     "application/json; charset=latin-1", "multipart/form-data; boundary=x"]
)
_path_values = st.one_of(st.text(max_size=10), st.sampled_from(["1", "-5", "²", "user@example.com", "a/b", "%2F"]))
_query_values = st.one_of(st.text(max_size=8), st.sampled_from(["--5", "²", "5", "true", "1e3", "٣"]))


@st.composite
def _requests(draw: st.DrawFn, operation: Operation | None = None) -> tuple[str, str, dict[str, str], bytes]:
    operation = operation or draw(st.sampled_from(_OPERATIONS))
    fields = _fields_of(operation)
    path = re.sub(r"\{\w+\}", lambda _: quote(draw(_path_values), safe=""), operation.path)
    query = "&".join(f"{name}={quote(draw(_query_values))}" for name in ("after", "passwords", "user", "operation"))
    content_type, text = draw(_bodies(fields))
    headers = {"Content-Type": content_type}
    for name in ("Authorization", "X-Mockauth-Mode", "Origin", "Host"):
        if draw(st.booleans()):
            headers[name] = draw(_header_text)
    if draw(st.booleans()):
        headers["Authorization"] = "Bearer " + draw(_tokens).encode("utf-8", "surrogatepass").decode("latin-1")
    body = text.encode("utf-8", "surrogatepass")
    return operation.method, f"http://127.0.0.1{path}?{query}", headers, body


# The answers that are not JSON on purpose: the spec document, the dashboard page.
_NOT_JSON = {"openapi", "dashboard"}
_MODE_OPTIONS: dict[str, dict[str, float]] = {"slow": {"delay": 0}}


@pytest.mark.parametrize("operation", _OPERATIONS, ids=lambda op: op.operation_id)
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_any_request_to_each_operation_gets_a_json_answer_and_no_bug(operation: Operation, data: st.DataObject) -> None:
    _check_answer(None, data.draw(_requests(operation)))


@pytest.mark.parametrize("mode", list(MODES))
@settings(SETTINGS, max_examples=40)
@given(request=_requests())
def test_any_request_with_each_mode_armed_gets_the_mode_or_a_json_answer(
    mode: str, request: tuple[str, str, dict[str, str], bytes]
) -> None:
    _check_answer(mode, request)


def _check_answer(mode: str | None, request: tuple[str, str, dict[str, str], bytes]) -> None:
    method, url, headers, body = request
    _ROBUST.reset()
    if mode is not None:
        _ROBUST.fail(mode, **_MODE_OPTIONS.get(mode, {}))
    try:
        status, answer_headers, data = call_app(_ROBUST.app, method, url, headers, body)
    except Disconnected:
        assert mode == "disconnect"
        return
    finally:
        errors, _ = _ROBUST.app.take_errors()
        assert not errors, f"raised inside the app: {errors[0]!r}"
    content_type = dict((k.lower(), v) for k, v in answer_headers).get("content-type", "")
    path = url.split("?")[0].removeprefix("http://127.0.0.1")
    if status >= 500:
        own = {"server_error": (500, "server_error"), "unavailable": (503, "temporarily_unavailable")}
        assert mode in own and status == own[mode][0], (status, data[:300])
        if not (content_type.startswith("text/html") and _documents_html(method, path, status)):
            assert json.loads(data)["error"] == own[mode][1], data[:300]
    if status == 204 or (mode == "malformed_response" and status == 200):
        return
    if status == 200 and any(path == op.path for op in _OPERATIONS if op.operation_id in _NOT_JSON):
        return
    if content_type.startswith("text/html") and _documents_html(method, path, status):
        return  # a page for a browser (the login page, its errors, logging out), as the spec says
    assert content_type.startswith("application/json"), (status, content_type, data[:200])
    json.loads(data)  # parses: the body is JSON


def _documents_html(method: str, path: str, status: int) -> bool:
    """Whether openapi.yaml says this operation may answer `status` with an HTML page."""
    document = load_spec(default_spec_path()).document
    for op in _OPERATIONS:
        if op.method == method and op.path == path:
            responses = document["paths"][op.path][op.method.lower()]["responses"]
            answer = responses.get(str(status)) or responses.get("default") or {}
            if "$ref" in answer:
                answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
            return "text/html" in answer.get("content", {})
    return False
