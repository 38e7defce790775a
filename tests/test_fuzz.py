"""Schemathesis against the LIVE server: every phase, every mode off and then each mode on.

The server starts when this module is imported, because ``@schema.parametrize()``
collects its cases before any fixture could run; under xdist each worker imports the
module and gets its own server. Modes are switched on per request with the
``X-Mockauth-Mode`` header, so no test leaves a mode armed for the next one.

What "passes" means (SECURITY.md, "Fuzzing"):
- mode off: every schemathesis check, zero 500s, every response as openapi.yaml says;
- a mode on: the answer is the mode's own (its status and a schema-valid error body), or
  the ordinary answer when the mode does not apply to that request; a 500 only from
  ``server_error``; the modes that break responses on purpose (``malformed_response``,
  ``incomplete_response``, ``disconnect``) are checked for breaking them as documented;
- nothing raised inside the app (``auth.app.errors`` stays empty).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
from typing import Any

import pytest
import requests
import schemathesis
from conftest import IssuedToken
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from mockauth import MODES, MockAuth, default_spec_path, load_fixtures
from mockauth._modes import OAUTH_OPERATIONS

# The bundled users, but the fixture user that is always slow waits 10 ms, not 2 s.
_fixtures = load_fixtures(MockAuth.from_fixtures().fixtures_path or "")
_users = [
    dataclasses.replace(u, mode="slow:delay=0.01") if u.mode and u.mode.startswith("slow") else u
    for u in _fixtures.users
]
auth = MockAuth(_users, **_fixtures.settings)
server = auth.serve().start()
atexit.register(server.stop)

# A second mock for the control API: fuzzing it arms modes, moves the clock and removes
# users, so it is reset after every request and never shared with the API fuzzing.
control_auth = MockAuth.from_fixtures()
control_server = control_auth.serve().start()
atexit.register(control_server.stop)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
MODE_FUZZ = settings(FUZZ, max_examples=25)

schema = schemathesis.openapi.from_path(default_spec_path())
schema.config.update(base_url=server.url, request_timeout=10)
api = schema.exclude(tag="mockauth-control")
api.auth()(IssuedToken.of(auth))

control_schema = schemathesis.openapi.from_path(default_spec_path())
control_schema.config.update(base_url=control_server.url, request_timeout=10)
control = control_schema.include(tag="mockauth-control")
control.auth()(IssuedToken.of(control_auth))

# Options that keep each mode quick: `slow` waits 10 ms, not a second.
MODE_HEADERS = {name: name for name in MODES}
MODE_HEADERS["slow"] = "slow:delay=0.01"


def _no_crash(app_auth: MockAuth) -> None:
    errors = list(app_auth.app.errors)
    app_auth.app.errors.clear()
    assert not errors, f"a request raised inside the app: {errors[0]!r}"


# -- every mode off ---------------------------------------------------------------------


@api.parametrize()
@FUZZ
def test_api_conforms_with_no_mode(case: schemathesis.Case) -> None:
    response = case.call_and_validate()
    assert response.status_code < 500
    _no_crash(auth)


@control.parametrize()
@FUZZ
def test_control_api_conforms(case: schemathesis.Case) -> None:
    try:
        # openapi.yaml says exactly what the control API takes: every check holds.
        response = case.call_and_validate()
        assert response.status_code < 500
    finally:
        control_auth.reset()  # whatever the request armed or moved, the next starts clean
    _no_crash(control_auth)


# -- each mode on -----------------------------------------------------------------------

# Checks that a failing mode contradicts by design, whatever the request held: a mode
# answers before validation, so valid data may be refused (429, 503) and invalid data
# may get the mode's answer instead of 400.
_MODE_EXCLUDED = [positive_data_acceptance, negative_data_rejection, missing_required_header]


def _applies(mode_name: str, case: schemathesis.Case) -> bool:
    return case.operation.definition.raw.get("operationId") in MODES[mode_name].operations


def _check_mode(mode_name: str, case: schemathesis.Case) -> None:
    mode = MODES[mode_name]
    applies = _applies(mode_name, case)
    headers = {"X-Mockauth-Mode": MODE_HEADERS[mode_name]}
    try:
        response = case.call(headers=headers)
    except requests.ConnectionError:
        # Only the disconnect mode hangs up, and only where it applies.
        assert mode.effect == "disconnect"
        assert applies
        _no_crash(auth)
        return
    status = response.status_code
    content_type = response.headers.get("content-type", [""])[0]
    excluded = list(_MODE_EXCLUDED)
    if mode.effect == "malformed" and status == 200 and applies:
        # Broken on purpose: a JSON content type over a body that is not JSON.
        assert content_type.startswith("application/json")
        with pytest.raises(ValueError):  # noqa: PT011 - json's own error type
            json.loads(response.content)
        _no_crash(auth)
        return
    if mode.effect == "incomplete" and status == 200 and applies:
        assert "access_token" not in json.loads(response.content)
        excluded.append(response_schema_conformance)
    if mode_name in ("server_error", "unavailable"):  # their 500 and 503 are the point
        excluded.append(not_a_server_error)
    else:
        assert status < 500 or (status == 503 and mode_name == "unavailable")
    if mode.effect == "malformed":
        excluded.append(ignored_auth)
    operation = case.operation.definition.raw.get("operationId")
    if mode.effect == "error" and applies and status == mode.status and operation not in OAUTH_OPERATIONS:
        assert json.loads(response.content)["error"] == mode.error
    # The OAuth endpoints answer a mode in their own shape (RFC 6749 codes, pages,
    # redirects to the client: tests/test_modes.py checks each); the schema holds here.
    case.validate_response(response, excluded_checks=excluded, headers=headers)
    _no_crash(auth)


def _mode_test(mode_name: str) -> Any:
    @api.parametrize()
    @MODE_FUZZ
    def test(case: schemathesis.Case) -> None:
        _check_mode(mode_name, case)

    test.__name__ = f"test_api_with_mode_{mode_name}"
    return test


for _name in MODES:
    globals()[f"test_api_with_mode_{_name}"] = _mode_test(_name)


# -- stateful: login -> me / refresh / logout, with and without modes -------------------


def test_stateful_phase_against_live_server() -> None:
    # Built here, not at module level, so pytest does not also collect it as a TestCase.
    machine = api.as_state_machine().TestCase
    # Derandomized, the walk still changes with changes elsewhere in the package: making
    # two internal records NamedTuples made it part after 35 requests, every answer up to
    # there the same, and at 50 examples left it one refresh and no /auth/me answered
    # 200. At 200 examples each chain is walked ten times or more.
    machine.settings = settings(
        max_examples=200,
        stateful_step_count=8,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    before = auth.journal.total
    machine().runTest()
    _no_crash(auth)
    answered = {(e.operation, e.status) for e in auth.journal.entries()}
    assert {("login", 200), ("me", 200), ("refresh", 200), ("logout", 204)} <= answered
    assert auth.journal.total > before


def test_spec_names_every_mode() -> None:
    # The arm request's `name` enum in openapi.yaml is what schemathesis generates from.
    arm = schema.raw_schema["components"]["schemas"]["ArmRequest"]["properties"]["name"]
    assert sorted(arm["enum"]) == sorted(MODES)
