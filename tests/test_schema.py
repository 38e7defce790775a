"""The mock checked against its own openapi.yaml by schemathesis, in-process."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import missing_required_header

from mockauth import MODES, MockAuth, default_spec_path

auth = MockAuth.from_fixtures(journal_size=100_000)
schema = schemathesis.openapi.from_path(default_spec_path())
schema.app = auth.app
api = schema.exclude(tag="mockauth-control")


@api.parametrize()
@settings(max_examples=30, suppress_health_check=list(HealthCheck), deadline=None)
def test_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate()


STATEFUL = settings(max_examples=100, stateful_step_count=10, derandomize=True, suppress_health_check=list(HealthCheck), deadline=None)


def state_machine_test() -> type:
    # A schema of its own: schemathesis feeds values seen in earlier tests' responses into
    # generation, which would make this run depend on which tests ran before it.
    fresh = schemathesis.openapi.from_path(default_spec_path())
    fresh.app = auth.app
    test_case: type = fresh.exclude(tag="mockauth-control").as_state_machine().TestCase
    test_case.settings = STATEFUL
    return test_case


def test_stateful_phase_followed_the_links() -> None:
    # The links login -> me / refresh / logout carried real tokens: those calls succeeded.
    auth.reset()
    state_machine_test()().runTest()
    answered = {(e.operation, e.status) for e in auth.journal.entries()}
    assert {("login", 200), ("me", 200), ("refresh", 200), ("logout", 204)} <= answered


# Every mode whose answers the spec describes. malformed_response, incomplete_response
# and disconnect break the contract on purpose: that is what they are for.
CONFORMING_MODES = sorted(name for name, mode in MODES.items() if mode.effect in ("error", "expire", "delay", "challenge"))


@pytest.mark.parametrize("name", CONFORMING_MODES)
@api.parametrize()
@settings(max_examples=8, suppress_health_check=list(HealthCheck), deadline=None)
def test_api_conforms_with_each_mode_armed(name: str, case: schemathesis.Case) -> None:
    auth.reset()
    auth.fail(name, **({"delay": 0.001} if name == "slow" else {}))
    # A rate limit or an outage answers before authentication, as real servers do, and a
    # 5xx is what server_error and unavailable are for: those two checks expect otherwise.
    excluded = [missing_required_header, not_a_server_error] if MODES[name].status >= 429 else []
    try:
        case.call_and_validate(excluded_checks=excluded)
    finally:
        auth.reset()
