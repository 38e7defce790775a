"""The schema half of the contract: schemathesis' engine, run as a library on the spec
rewritten for the deployment (``Operations.document``: its operations, its paths, its
content types, links pruned to match).

Each phase runs as an engine of its own, so the budget can end one phase and still give
the next its share. Imported only by ``Contract.run_schema``, so nothing else ever loads
schemathesis.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from .budget import Budget
from .catalog import SCHEMA_CHECKS
from .client import Secrets, curl_line, shown_answer, shown_request
from .operations import Operations
from .results import (
    CONTENT_TYPES,
    FAILED,
    PASSED,
    SCHEMA_PHASES,
    SKIPPED,
    CheckResult,
    ContractError,
    Finding,
    PhaseRun,
    Progress,
    RunOptions,
    clip,
)

# Distinct failures kept per check; past this they are counted, not shown (a fuzzer that
# finds a new wording with every case must not grow the report without end).
MAX_GROUPS = 50


@dataclass
class _Group:
    summary: str
    count: int
    sample: tuple[str, ...]


@dataclass
class _Tally:
    passed: int = 0
    failed: int = 0
    groups: dict[str, _Group] = field(default_factory=dict)
    uncounted: int = 0  # failures past MAX_GROUPS kinds


@dataclass
class SchemaRun:
    results: list[CheckResult]
    phases: list[PhaseRun]


def _config(options: RunOptions, operations: Operations, phase: str, share: float) -> SchemathesisConfig:
    settings: dict[str, Any] = {
        "base-url": options.url,
        "request-timeout": options.timeout,
        # Runs leave nothing behind in the caller's directory (no .hypothesis, no cache).
        "cache": {"enabled": False},
        # Every distinct failure, not the first of each operation; and the budget spent on
        # new cases rather than on shrinking one failure to its smallest form.
        "continue-on-failure": True,
        "generation": {"database": "none", "no-shrink": True},
        # Curl lines must carry the real bearer token to reproduce anything; the password
        # is masked by field by us (client.curl_line) rather than by schemathesis.
        "output": {"sanitization": {"enabled": False}},
    }
    auth: dict[str, Any] = {}
    schemes = _schemes(operations, "bearer")
    if "login" in operations and schemes:
        login = {
            "path": operations.path("login"),
            "method": operations.offered["login"].method.lower(),
            "payload": {"username": _literal(options.username), "password": _literal(options.password)},
            "payload_content_type": CONTENT_TYPES[options.login_body],
            "extract_selector": "/access_token",
            "retry_on": [401],
        }
        auth["dynamic"] = {"openapi": {name: login for name in schemes}}
    if options.client_id and options.client_secret:  # the token endpoint's client_secret_basic
        client = {"username": _literal(options.client_id), "password": _literal(options.client_secret)}
        auth["openapi"] = {name: client for name in _schemes(operations, "basic")}
    if auth:
        settings["auth"] = auth
    config = SchemathesisConfig.from_dict(settings)
    config.update(seed=options.seed, max_failures=None, max_time=_seconds(share))
    project = config.projects.override
    if options.headers:
        project.update(headers=dict(options.headers))
    project.phases.update(phases=[phase])
    project.checks.update(included_check_names=["all"], excluded_check_names=sorted(options.excluded))
    if options.max_examples is not None:
        project.generation.update(max_examples=options.max_examples)
    return config


def _schemes(operations: Operations, kind: str) -> list[str]:
    """The spec's HTTP security schemes of this kind ('bearer', 'basic')."""
    schemes = operations.spec.document.get("components", {}).get("securitySchemes", {})
    return [
        name for name, scheme in schemes.items()
        if isinstance(scheme, dict) and scheme.get("type") == "http" and str(scheme.get("scheme")).lower() == kind
    ]


def _literal(value: str) -> str:
    """`value` as schemathesis' settings take it literally: it reads '${NAME}' as a variable."""
    return value.replace("${", "$${")


def run_schemathesis(
    options: RunOptions, operations: Operations, names: Sequence[str], budget: Budget, say: Progress
) -> SchemaRun:
    """Run the examples, coverage, fuzzing and stateful phases; one result per check."""
    document = operations.document()
    tallies = {name: _Tally() for name in SCHEMA_CHECKS}
    errors: list[str] = []
    runs = []
    say(f"schema checks (schemathesis {schemathesis.__version__}, phases {', '.join(SCHEMA_PHASES)}):")
    for index, phase in enumerate(SCHEMA_PHASES):
        share = budget.share(phase, SCHEMA_PHASES[index:])
        try:
            schema = schemathesis.openapi.from_dict(document, config=_config(options, operations, phase, share))
        except Exception as error:  # schemathesis raises its own tree; all mean a spec it cannot use
            raise ContractError(f"schemathesis cannot load it: {error}", "spec") from None
        # No guessing of security the spec left out: openapi.yaml declares it wherever it is
        # needed, and the guess resends every 401 of a public operation (a wrong password at
        # login) with a bearer token, a request the contract does not describe: a quarter
        # of all requests against the mock, a sixth of the runner's CPU (bench/RESULTS.md).
        schema.record_runtime_observations = _no_security_guessing  # type: ignore[method-assign]
        run = _run_phase(schema, phase, share, tallies, errors, options.secrets, say)
        runs.append(run)
        say(f"  {phase:<9} {run.summary()}")
    return SchemaRun(_results(options, operations, names, tallies, errors), runs)


def _no_security_guessing(**_: Any) -> None:
    """Stands in for schemathesis' inference of security a spec did not declare."""


def _run_phase(
    schema: Any, phase: str, share: float, tallies: dict[str, _Tally], errors: list[str], secrets: Secrets,
    say: Progress,
) -> PhaseRun:
    """One phase, within `share` seconds: schemathesis' own time limit splits it among the
    operations and ends each one's cases gracefully. Given a time limit, schemathesis
    would repeat fuzzing and stateful until it is spent; one round is what we ask for."""
    run = PhaseRun(phase, share)
    started = time.monotonic()
    stream = from_schema(schema).execute()
    for event in stream:
        if isinstance(event, events.PhaseFinished) and event.phase.name.value == phase:
            if event.status == Status.SKIP and event.phase.skip_reason is not None and not run.scenarios:
                run.skipped = event.phase.skip_reason.display
            stream.stop()
        elif isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            run.scenarios += 1
            run.cases += len(event.recorder.interactions)
            _tally(event.recorder, tallies, secrets)
            # A line now and then, so a slow target shows where the run is.
            if run.scenarios % 20 == 0 or phase != "stateful":
                say(f"    {phase:<9} {event.recorder.label:<38} {run.cases} cases so far")
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise ContractError(f"schemathesis stopped: {event.exception}")
        elif isinstance(event, events.EngineFinished):
            errors.extend(f"{failure.title}: {failure.message}" for failure in event.failures or ())
    run.seconds = time.monotonic() - started
    run.stopped = run.seconds >= _seconds(share) - 0.05  # it ran into its time limit
    return run


def _seconds(share: float) -> int:
    """schemathesis takes whole seconds; a share under one still gets one."""
    return max(1, int(share))


def _results(
    options: RunOptions, operations: Operations, names: Sequence[str], tallies: dict[str, _Tally], errors: list[str]
) -> list[CheckResult]:
    results = []
    inapplicable = _inapplicable(operations)
    for name in names:
        description, tally = SCHEMA_CHECKS[name], tallies[name]
        if name in options.excluded:
            reason = f"excluded ({options.option('exclude_checks', name)})"
            results.append(CheckResult(name, "schema", description, SKIPPED, reason))
        elif name in inapplicable and not tally.failed:
            # schemathesis counts a check that found nothing to look at as a success;
            # the report says why it had nothing to look at instead.
            results.append(CheckResult(name, "schema", description, SKIPPED, inapplicable[name]))
        elif tally.failed:
            findings = tuple(Finding(key, g.summary, g.count, g.sample) for key, g in tally.groups.items())
            if tally.uncounted:
                findings += (Finding("other", f"{tally.uncounted} more failures of other kinds", tally.uncounted),)
            kinds = len(findings)
            reason = (
                f"{tally.failed} of {tally.passed + tally.failed} responses failed, "
                f"{kinds} distinct {'failure' if kinds == 1 else 'failures'}"
            )
            results.append(CheckResult(name, "schema", description, FAILED, reason, findings))
        elif tally.passed:
            results.append(CheckResult(name, "schema", description, PASSED))
        else:
            reason = "no request in this run was one it applies to"
            results.append(CheckResult(name, "schema", description, SKIPPED, reason))
    if errors:
        unique = list(dict.fromkeys(errors))
        findings = tuple(Finding(clip(message, 200), clip(message)) for message in unique)
        results.append(
            CheckResult(
                "schema_run_errors", "schema", "the schemathesis run itself met no errors", FAILED,
                f"{len(unique)} errors while testing (network, or requests schemathesis could not build)",
                findings,
            )
        )
    return results


def _inapplicable(operations: Operations) -> dict[str, str]:
    """Checks that cannot apply to the operations offered, and why (read off the spec)."""
    document = operations.document()
    methods = {method for item in document["paths"].values() for method in item}
    statuses = {
        str(code) for item in document["paths"].values() for op in item.values() if isinstance(op, dict)
        for code in op.get("responses", {})
    }
    reasons = {"object_level_authorization": "needs two identities; the contract logs in as one user"}
    if "delete" not in methods:
        reasons["use_after_free"] = "no operation offered is a DELETE, so nothing is ever deleted"
    if "201" not in statuses:
        reasons["ensure_resource_availability"] = "no operation offered creates a resource (201)"
    return reasons


def _tally(recorder: Any, tallies: dict[str, _Tally], secrets: Secrets) -> None:
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
                first = (failure.message.strip().splitlines() or [""])[0]
                summary = f"{failure.operation}: {failure.title}" + (f": {first}" if first else "")
                key = clip(summary, 300)
                if key in tally.groups:
                    tally.groups[key].count += 1
                elif len(tally.groups) >= MAX_GROUPS:
                    tally.uncounted += 1
                else:
                    tally.groups[key] = _Group(summary, 1, _sample(recorder, case_id, check.failure_info, secrets))


def _without_schema(message: str) -> list[str]:
    """schemathesis' message less the schema it quotes (the reader has the spec): what
    was wrong, and the value that was."""
    lines, quoting = [], False
    for line in message.strip().splitlines():
        if line.strip() == "Schema:":
            quoting = True
        elif line.strip() == "Value:":
            quoting = False
        if not quoting and line.strip():  # no blank lines: a blank line ends a block of the report
            lines.append(line)
    return lines


def _sample(recorder: Any, case_id: str, info: Any, secrets: Secrets) -> tuple[str, ...]:
    """What failed, what was sent and came back, and a curl line per request it takes."""
    lines = [f"      {line}".rstrip() for line in _without_schema(info.failure.message)]
    interaction = recorder.interactions.get(case_id)
    if interaction is not None:
        request = interaction.request
        headers = [(key, value) for key, values in request.headers.items() for value in values]
        lines += shown_request(request.method, request.uri, headers, request.body or b"", secrets)
        if interaction.response is not None:
            response = interaction.response
            lines += shown_answer(
                response.status_code,
                [(k, v) for k, values in response.headers.items() for v in values],
                response.content or b"",
            )
    for step_id in [step.case_id for step in info.steps] or [case_id]:
        step = recorder.interactions.get(step_id)
        if step is None:
            continue
        request = step.request
        headers = [(key, value) for key, values in request.headers.items() for value in values]
        lines.append("  curl:     " + curl_line(request.method, request.uri, headers, request.body or b"", secrets))
    return ("\n".join(lines),)
