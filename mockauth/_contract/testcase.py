"""``contract_test``: the contract as a parametrized pytest test in your own suite."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .catalog import SCHEMA, own_checks
from .operations import resolve
from .results import KNOWN, PASSED, PASSWORD_VARIABLE, SKIPPED, URL_VARIABLE, USERNAME_VARIABLE, ContractError
from .runner import Contract

# The runner's reasons name the flags of `mockauth contract`; inside pytest the same
# options are contract_test's keyword arguments.
_FLAGS_AS_KEYWORDS = {
    "--expired-token TOKEN": "expired_token=TOKEN",
    "--expired-token": "expired_token=",
    "--expiry-wait": "expiry_wait=",
    "--exclude-check": "exclude_checks=",
    "--no-schema": "schema=False",
    "--username": "username=",
    "--password": "password=",
}


def as_keywords(reason: str) -> str:
    """A skip reason that names contract_test's keyword arguments, not CLI flags."""
    for flag, keyword in _FLAGS_AS_KEYWORDS.items():
        reason = reason.replace(flag, keyword)
    return reason


def contract_test(
    url: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    **options: Any,
) -> Callable[..., None]:
    """A pytest test, one case per contract check, to keep the contract in your own CI.

    ``url``, ``username`` and ``password`` default to the environment variables
    ``MOCKAUTH_CONTRACT_URL``, ``MOCKAUTH_CONTRACT_USERNAME``, ``MOCKAUTH_CONTRACT_PASSWORD``
    (read when the test runs; without them it is skipped); other keywords are
    ``Contract``'s, and skip reasons name them (``expired_token=...``). Assign the result
    to a ``test_`` name in a test module::

        from mockauth import contract_test
        test_auth_contract = contract_test("https://auth.staging.example.com",
                                           username="ci@example.com", max_examples=50,
                                           operations=["login", "me"], paths={"login": "/token"})
    """
    import pytest

    def test_contract(check: str) -> None:
        given = {"url": url, "username": username, "password": password}
        variables = {"url": URL_VARIABLE, "username": USERNAME_VARIABLE, "password": PASSWORD_VARIABLE}
        values = {name: value or os.environ.get(variables[name]) for name, value in given.items()}
        for name, value in values.items():
            if not value:
                pytest.skip(f"no contract target: pass {name}= to contract_test or set {variables[name]}")
        report = Contract(
            str(values["url"]), username=str(values["username"]), password=str(values["password"]), **options
        ).run(only=[check])
        if report.failed:
            pytest.fail(report.render(), pytrace=False)
        if not report.results:
            pytest.skip(f"{check}: not part of this run ({'; '.join(report.left_out) or 'nothing to check'})")
        reasons = {r.reason for r in report.results if r.status in (SKIPPED, KNOWN)}
        if reasons and not any(r.status == PASSED for r in report.results):
            pytest.skip(f"{check}: " + "; ".join(sorted(as_keywords(reason) for reason in reasons)))

    return pytest.mark.parametrize("check", [*_in_run(options), SCHEMA])(test_contract)


def _in_run(options: dict[str, Any]) -> list[str]:
    """The names of our own checks a run with these `options` holds the target to: those
    whose operations it offers or holds by default (no OAuth case for a suite without token)."""
    try:
        spec = options.get("spec")
        operations = resolve(Path(spec) if spec else None, options.get("operations"))
    except ContractError:
        operations = None  # the run itself will say what is wrong
    return [check.name for _, check in own_checks() if operations is None or not operations.left_out(check.needs)]
