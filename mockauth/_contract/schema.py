"""The schema half of the contract: schemathesis' engine, run as a library.

Imported only by ``Contract.run_schema``, so nothing else ever loads schemathesis.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from schemathesis.engine.run import TESTING_PHASES, UNIT_PHASES

from .._spec import CONTROL_TAG, default_spec_path, load_spec
from .checks import SCHEMA_CHECKS
from .results import (
    FAILED,
    PASSED,
    SCHEMA_PHASES,
    SKIPPED,
    CheckResult,
    ContractError,
    Progress,
    RunOptions,
    clip,
)

# Failures kept per check for the report; the rest are counted. One example of a kind
# tells a person what to fix; fifty copies bury it.
SAMPLES_PER_CHECK = 3
_QUIET_HEADERS = frozenset(
    {"user-agent", "accept-encoding", "accept", "connection", "content-length", "x-schemathesis-testcaseid"}
)
_STATUS_WORDS = {Status.SUCCESS: "ok", Status.FAILURE: "FAILED", Status.ERROR: "error"}


@dataclass
class _Tally:
    passed: int = 0
    failed: int = 0
    samples: list[str] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)


def _config(contract: RunOptions) -> SchemathesisConfig:
    config = SchemathesisConfig.from_dict(
        {
            "base-url": contract.url,
            "request-timeout": contract.timeout,
            # Runs leave nothing behind in the caller's directory (no .hypothesis, no cache).
            "cache": {"enabled": False},
            "generation": {"database": "none"},
        # Curl lines must carry the real bearer token to reproduce anything; the
        # password is masked by us (see _sample) rather than by schemathesis.
        "output": {"sanitization": {"enabled": False}},
            "auth": {
                "dynamic": {
                    "openapi": {
                        "bearerAuth": {
                            "path": "/auth/login",
                            "method": "post",
                            "payload": {
                                "username": contract.username,
                                "password": contract.password,
                            },
                            "payload_content_type": "application/x-www-form-urlencoded",
                            "extract_selector": "/access_token",
                            "retry_on": [401],
                        }
                    }
                }
            },
        }
    )
    config.update(seed=contract.seed, max_failures=None)
    project = config.projects.override
    if contract.headers:
        project.update(headers=dict(contract.headers))
    project.phases.update(phases=list(SCHEMA_PHASES))
    project.checks.update(
        included_check_names=["all"], excluded_check_names=sorted(contract.excluded)
    )
    if contract.max_examples is not None:
        project.generation.update(max_examples=contract.max_examples)
    return config


def run_schemathesis(contract: RunOptions, names: Sequence[str], say: Progress) -> list[CheckResult]:
    """Run the examples, coverage, fuzzing and stateful phases; one result per check."""
    path = contract.spec_path or default_spec_path()
    try:
        schema = schemathesis.openapi.from_path(path, config=_config(contract)).exclude(
            tag=CONTROL_TAG
        )
    except Exception as error:  # schemathesis raises its own tree; all mean a spec it cannot use
        raise ContractError(f"{path}: schemathesis cannot load it: {error}") from None
    tallies = {name: _Tally() for name in SCHEMA_CHECKS}
    errors: list[str] = []
    scenarios = 0
    started = time.monotonic()
    say(
        f"schema checks (schemathesis {schemathesis.__version__}, "
        f"phases {', '.join(SCHEMA_PHASES)}):"
    )
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted) and event.phase.name in TESTING_PHASES:
            scenarios = 0
            started = time.monotonic()
        elif isinstance(event, events.PhaseFinished) and event.phase.name in TESTING_PHASES:
            if event.status == Status.SKIP and event.phase.skip_reason is not None:
                say(f"  {event.phase.name.value:<9} skipped: {event.phase.skip_reason.display}")
            else:
                say(
                    f"  {event.phase.name.value:<9} {scenarios} scenarios "
                    f"in {time.monotonic() - started:.1f} s"
                )
        elif isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            scenarios += 1
            _tally(event.recorder, tallies, contract.password)
            # A line per operation (or per 20 stateful scenarios), so a slow target shows
            # where the run is rather than going quiet for half a minute.
            if event.phase in UNIT_PHASES and event.status in _STATUS_WORDS:
                status = _STATUS_WORDS[event.status]
                say(f"    {event.phase.value:<9} {event.recorder.label:<38} {status}")
            elif scenarios % 20 == 0:
                say(f"    {event.phase.value:<9} {scenarios} scenarios so far")
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise ContractError(f"schemathesis stopped: {event.exception}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures or ():
                errors.append(f"{failure.title}: {failure.message}")

    results = []
    inapplicable = _inapplicable(contract)
    for name in names:
        description = SCHEMA_CHECKS[name]
        tally = tallies[name]
        if name in contract.excluded:
            results.append(
                CheckResult(name, "schema", description, SKIPPED, "excluded (--exclude-check)")
            )
        elif name in inapplicable and not tally.failed:
            # schemathesis counts a check that found nothing to look at as a success;
            # the report says why it had nothing to look at instead.
            results.append(CheckResult(name, "schema", description, SKIPPED, inapplicable[name]))
        elif tally.failed:
            shown = len(tally.samples)
            reason = (
                f"{tally.failed} of {tally.passed + tally.failed} responses failed "
                f"({shown} shown below, one per operation and kind of failure)"
            )
            results.append(
                CheckResult(name, "schema", description, FAILED, reason, tuple(tally.samples))
            )
        elif tally.passed:
            results.append(CheckResult(name, "schema", description, PASSED))
        else:
            results.append(
                CheckResult(
                    name,
                    "schema",
                    description,
                    SKIPPED,
                    "no request in this run was one it applies to",
                )
            )
    if errors:
        results.append(
            CheckResult(
                "schema_run_errors",
                "schema",
                "the schemathesis run itself met no errors",
                FAILED,
                f"{len(errors)} errors while testing "
                "(network, or requests schemathesis could not build)",
                tuple(f"  {clip(message)}" for message in dict.fromkeys(errors)),
            )
        )
    return results


def _inapplicable(contract: RunOptions) -> dict[str, str]:
    """Checks that cannot apply to this API, and why (read off the spec)."""
    spec = load_spec(contract.spec_path)
    tested = [op for op in spec.operations if not op.control]
    statuses = {
        str(code)
        for op in tested
        for code in spec.document["paths"][op.path][op.method.lower()].get("responses", {})
    }
    reasons = {
        "object_level_authorization": "needs two identities; the contract logs in as one user",
    }
    if not any(op.method == "DELETE" for op in tested):
        reasons["use_after_free"] = "the API has no DELETE operation, so nothing is ever deleted"
    if "201" not in statuses:
        reasons["ensure_resource_availability"] = (
            "the API has no operation that creates a resource (201)"
        )
    return reasons


def _tally(recorder: Any, tallies: dict[str, _Tally], secret: str) -> None:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            tally = tallies.get(check.name)
            if tally is None:  # a check newer than this table; not enabled by name here
                continue
            if check.status == Status.SUCCESS:
                tally.passed += 1
            elif check.status == Status.FAILURE and check.failure_info is not None:
                tally.failed += 1
                failure = check.failure_info.failure
                key = (str(failure.operation), failure.title)
                if key in tally.seen or len(tally.samples) >= SAMPLES_PER_CHECK:
                    continue
                tally.seen.add(key)
                tally.samples.append(_sample(recorder, case_id, check.failure_info, secret))


def _sample(recorder: Any, case_id: str, info: Any, secret: str) -> str:
    failure = info.failure
    lines = [
        f"  {failure.operation}: {failure.title}",
        *(f"    {line}" for line in failure.message.splitlines()),
    ]
    interaction = recorder.interactions.get(case_id)
    if interaction is not None:
        request = interaction.request
        lines.append(f"  sent:     {request.method} {request.uri}")
        for key, values in request.headers.items():
            if key.lower() not in _QUIET_HEADERS:
                lines.extend(f"            {key}: {value}" for value in values)
        if request.body:
            lines.append(
                "            "
                + clip(request.body.decode("utf-8", "replace").replace(secret, "***"))
            )
        response = interaction.response
        if response is not None:
            lines.append(f"  got:      HTTP {response.status_code}")
            content = response.content or b""
            if content:
                lines.append("            " + clip(content.decode("utf-8", "replace")))
    steps = [step.curl for step in info.steps] or [info.code_sample]
    for curl in steps:
        lines.append("  curl:     " + curl.replace(secret, "***").replace("\n", "\n            "))
    return "\n".join(lines)
