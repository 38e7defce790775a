"""The mock checked against its own openapi.yaml by schemathesis, in-process."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from mockauth import MockAuth, default_spec_path

auth = MockAuth.from_fixtures()
schema = schemathesis.openapi.from_path(default_spec_path())
schema.app = auth.app
api = schema.exclude(tag="mockauth-control")


@api.parametrize()
@settings(max_examples=30, suppress_health_check=list(HealthCheck), deadline=None)
def test_api_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate()


MachineTest = api.as_state_machine().TestCase
MachineTest.settings = settings(max_examples=60, stateful_step_count=6, derandomize=True, suppress_health_check=list(HealthCheck), deadline=None)


def test_stateful_phase_followed_the_links() -> None:
    # The links login -> me / refresh / logout carried real tokens: those calls succeeded.
    auth.reset()
    MachineTest().runTest()
    answered = {(e.operation, e.status) for e in auth.journal.entries()}
    assert {("login", 200), ("me", 200), ("refresh", 200), ("logout", 204)} <= answered
