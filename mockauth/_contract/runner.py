"""The contract runner: which operations are there, the checks of every table, then the
schemathesis phases, one report.

>>> report = Contract("http://127.0.0.1:8765", username="u", password="p").run()  # doctest: +SKIP
>>> print(report.render()); report.exit_code                                       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import importlib
import importlib.util
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import urlsplit

from .baseline import Baseline
from .budget import Budget
from .catalog import CHECK_NAMES, SCHEMA, SCHEMA_CHECKS, own_checks
from .client import Client
from .operations import Operations, resolve
from .probe import Check, CheckTable, Failed, Probe, Session, Skipped
from .report import ContractReport
from .results import (
    DEFAULT_BUDGET,
    DEFAULT_EXPIRY_WAIT,
    DEFAULT_REDIRECT_URI,
    DEFAULT_TIMEOUT,
    FAILED,
    PASSED,
    SKIPPED,
    CheckResult,
    ContractError,
    Finding,
    Progress,
    RunOptions,
)
from .tokens import expired_token_problem

# What a bare request (no body, no token) to an operation that is not there gets.
_ABSENT = (404, 405, 501)
_REDIRECTS = (301, 302, 303, 307, 308)
# Our own checks that run side by side: they wait on the target, not on our CPU.
SIDE_BY_SIDE = 4


class Contract:
    """A contract run against the auth API at `url`, logging in as `username`.

    >>> contract = Contract("https://auth.example", username="ci", password=pw,  # doctest: +SKIP
    ...                     operations=["login", "me"], paths={"login": "/token"})
    >>> report = contract.run(progress=print)  # doctest: +SKIP
    >>> report.ok, report.result("token_lifetime").status  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        username: str,
        password: str,
        spec: str | Path | None = None,
        operations: Iterable[str] | None = None,
        paths: Mapping[str, str] | None = None,
        content_type: str = "both",
        max_examples: int | None = None,
        seed: int | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        exclude_checks: Iterable[str] = (),
        expired_token: str | None = None,
        expiry_wait: float = DEFAULT_EXPIRY_WAIT,
        schema: bool = True,
        budget: float = DEFAULT_BUDGET,
        baseline: str | Path | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        scope: str | None = None,
        mfa_username: str | None = None,
        mfa_password: str | None = None,
        totp_secret: str | None = None,
        expired_username: str | None = None,
        expired_password: str | None = None,
        new_password: str | None = None,
        option_style: str = "keyword",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ContractError(f"{url!r}: must be an http:// or https:// URL with a host", "url")
        try:
            parts.port  # noqa: B018 - a bad port raises only when read
        except ValueError:
            raise ContractError(f"{url!r}: the port is not a number from 0 to 65535", "url") from None
        given = {
            "username": username, "password": password, "client_id": client_id, "client_secret": client_secret,
            "scope": scope, "mfa_username": mfa_username, "mfa_password": mfa_password, "totp_secret": totp_secret,
            "expired_username": expired_username, "expired_password": expired_password,
            "new_password": new_password,
        }
        for name, value in given.items():
            if value is not None and not value:
                raise ContractError("must not be empty", name)
        _check_extras(redirect_uri, totp_secret)
        if max_examples is not None and max_examples < 1:
            raise ContractError(f"must be at least 1, not {max_examples}", "max_examples")
        for name, number in (("timeout", timeout), ("budget", budget), ("expiry_wait", expiry_wait)):
            if not number > 0:
                raise ContractError(f"must be a positive number of seconds, not {number}", name)
        excluded = frozenset(exclude_checks)
        unknown = sorted(excluded - set(CHECK_NAMES))
        if unknown:
            raise ContractError(f"{unknown[0]!r}: unknown check (known: {', '.join(CHECK_NAMES)})", "exclude_checks")
        for name, value in (headers or {}).items():
            if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise ContractError(f"{name!r}: not a valid header", "headers")
        if expired_token is not None and (problem := expired_token_problem(expired_token)):
            raise ContractError(problem, "expired_token")
        if schema and _schemathesis_missing():
            raise ContractError(
                "the schema checks need schemathesis, which is not installed: pip install 'mockauth[contract]' "
                "(or run the auth checks alone with " + ("--no-schema" if option_style == "flag" else "schema=False")
                + ")"
            )
        spec_path = Path(spec) if spec is not None else None
        self.operations: Operations = resolve(spec_path, operations, paths, content_type)
        self.options = RunOptions(
            url.rstrip("/"), username, password, spec_path, content_type, max_examples, seed, dict(headers or {}),
            timeout, excluded, expired_token, expiry_wait, schema, budget, client_id, client_secret, redirect_uri,
            scope, mfa_username, mfa_password, totp_secret, expired_username, expired_password, new_password,
            option_style,
        )
        self.baseline = Baseline.read(Path(baseline)) if baseline is not None else None
        self.url = self.options.url
        self.secrets = self.options.secrets

    # -- running -------------------------------------------------------------------------

    def ensure_reachable(self) -> None:
        """Raise ContractError unless something answers HTTP at the URL."""
        options = self.options
        answer = Client(options.url, options.headers, options.timeout).send("GET", "/")
        if answer.status is None:
            raise ContractError(f"cannot reach {self.url}: {answer.error}")

    def run(self, *, only: Iterable[str] | None = None, progress: Progress | None = None) -> ContractReport:
        """Run the checks (all, or `only` these names; ``"schema"`` selects every schema
        check) and return the report. Raises ContractError if the target is unreachable."""
        say = progress or (lambda _: None)
        chosen = set(only) if only is not None else None
        unknown = sorted((chosen or set()) - set(CHECK_NAMES) - {SCHEMA})
        if unknown:
            raise ContractError(f"check {unknown[0]!r}: unknown (known: {', '.join(CHECK_NAMES)})")
        budget = Budget(self.options.budget, time.monotonic())
        self.ensure_reachable()
        client = Client(self.options.url, self.options.headers, self.options.timeout)
        report = ContractReport(self.url, self.operations, self.options)
        named = [(table, check) for table, check in own_checks() if chosen is None or check.name in chosen]
        checks = [(table, check) for table, check in named if not self.operations.left_out(check.needs)]
        report.left_out = _left_out([item for item in named if item not in checks], self.operations)
        schema_names = [n for n in SCHEMA_CHECKS if chosen is None or SCHEMA in chosen or n in chosen]
        if schema_names and self.options.schema:
            # schemathesis loads (most of a second of CPU) while our checks wait on the target.
            importer = threading.Thread(target=importlib.import_module, args=(f"{__package__}.schema",), daemon=True)
            importer.start()
        involved = {op for _, check in checks for op in (*check.needs, *check.uses)}
        absent = self.find_absent(client, report, set(self.operations.offered) if schema_names else involved, say)
        if checks:
            say(f"checks against {self.url}:")
        session = Session()
        for result in self.run_checks(checks, client, absent, session):
            report.results.append(result)
            say(f"  {result.status:<7} {result.name}" + (f" ({result.reason})" if result.reason else ""))
        report.changes = session.changes
        if schema_names:
            report.results.extend(self.run_schema(schema_names, client, absent, budget, report, say))
        report.duration = time.monotonic() - budget.started
        if self.baseline is not None:
            report.apply_baseline(self.baseline)
        return report

    def find_absent(
        self, client: Client, report: ContractReport, involved: Iterable[str], say: Progress
    ) -> dict[str, str]:
        """The offered operations (of those the run involves) that are not there: one
        finding each, rather than a cascade of failures in every check and phase that uses them."""
        absent: dict[str, str] = {}
        for name, endpoint in self.operations.offered.items():
            if name not in involved:
                continue
            answer = client.send(endpoint.method, endpoint.path, operation=name)
            option = self.options.option
            elsewhere = "PATH"
            if answer.status in _ABSENT:
                absent[name] = f"answered {answer.status} to a bare request"
            elif answer.status in _REDIRECTS and not endpoint.redirects:
                location = answer.header("Location") or ""
                absent[name] = f"answered {answer.status}, redirecting to {location or 'elsewhere'}"
                moved = urlsplit(location).path
                if moved.startswith(client.prefix + "/"):
                    elsewhere = moved[len(client.prefix):]
            else:
                continue
            reason = (
                f"{endpoint.label} {absent[name]}: not offered? pass {option('operations')} without {name}, "
                f"or {option('paths', f'{name}={elsewhere}')} if it lives elsewhere"
            )
            finding = Finding(f"{endpoint.label} {answer.status}", reason, 1, (answer.describe(self.secrets),))
            where = f"{name} is at {endpoint.label}"
            report.results.append(CheckResult(f"{name}_offered", "operations", where, FAILED, reason, (finding,)))
            say(f"  operation {name}: {endpoint.label} {absent[name]}")
        return absent

    def run_checks(
        self, checks: Sequence[tuple[CheckTable, Check]], client: Client, absent: Mapping[str, str], session: Session
    ) -> Iterable[CheckResult]:
        """Each check's result, in table order. Those that touch only their own tokens run
        side by side; a check that may end other sessions (``alone``) and the steps of a
        flow (``in_order`` tables) run one at a time, once the others are done."""
        with ThreadPoolExecutor(SIDE_BY_SIDE, thread_name_prefix="mockauth-contract") as pool:
            running: dict[int, Future[CheckResult]] = {
                index: pool.submit(self.run_check, table, check, client, absent, session)
                for index, (table, check) in enumerate(checks) if not (table.in_order or check.alone)
            }
            for index, (table, check) in enumerate(checks):
                if index in running:
                    yield running[index].result()
                else:
                    wait(running.values())
                    yield self.run_check(table, check, client, absent, session)

    def run_check(
        self, table: CheckTable, check: Check, client: Client, absent: Mapping[str, str], session: Session
    ) -> CheckResult:
        def row(status: str, reason: str = "", *findings: Finding) -> CheckResult:
            return CheckResult(check.name, table.kind, check.description, status, reason, findings)

        if check.name in self.options.excluded:
            return row(SKIPPED, f"excluded ({self.options.option('exclude_checks', check.name)})")
        for operation in check.needs:
            if operation not in self.operations:
                return row(SKIPPED, f"needs {operation}, not offered ({self.options.option('operations')})")
            if operation in absent:
                return row(SKIPPED, f"needs {operation}, which is not there (see {operation}_offered)")
        usable = {op for op in check.uses if op in self.operations and op not in absent}
        try:
            check.run(Probe(self.options, self.operations, frozenset(check.needs) | usable, client, session))
        except Failed as failure:
            evidence = tuple(exchange.describe(self.secrets) for exchange in failure.exchanges)
            return row(FAILED, failure.reason, Finding(failure.reason, failure.reason, 1, evidence))
        except Skipped as skip:
            return row(SKIPPED, skip.reason)
        return row(PASSED)

    def run_schema(
        self, names: Sequence[str], client: Client, absent: Mapping[str, str], budget: Budget,
        report: ContractReport, say: Progress,
    ) -> list[CheckResult]:
        """The schemathesis phases; one result per schemathesis check."""

        def skipped(reason: str) -> list[CheckResult]:
            return [CheckResult(n, "schema", SCHEMA_CHECKS[n], SKIPPED, reason) for n in names]

        if not self.options.schema:
            return skipped(f"schema checks turned off ({self.options.option('schema', 'False')})")
        operations = self.operations
        if absent:
            offered = {name: e for name, e in operations.offered.items() if name not in absent}
            operations = Operations(
                operations.spec, offered, operations.not_offered, operations.content_type, operations.default
            )
        if not operations.offered:
            return skipped("no operation offered is there (see the *_offered findings)")
        bearer = [name for name, endpoint in operations.offered.items() if endpoint.bearer]
        if bearer:
            problem = self._login_problem(client, operations, report)
            if problem:
                verb = "needs" if len(bearer) == 1 else "need"
                return skipped(f"{', '.join(bearer)} {verb} a bearer token, but {problem}")
        from .schema import run_schemathesis

        run = run_schemathesis(self.options, operations, names, budget, say)
        report.phases = run.phases
        return run.results

    def _login_problem(self, client: Client, operations: Operations, report: ContractReport) -> str | None:
        """Why schemathesis could not get a token, found before it tries (and reports
        the failed fetches as errors of its own), or None."""
        if "login" not in operations:
            return "login is not offered, so there is no getting one"
        earlier = next((r for r in report.results if r.name == "login_succeeds"), None)
        if earlier is not None and earlier.status in (PASSED, FAILED):
            return None if earlier.status == PASSED else "logging in failed (see login_succeeds)"
        probe = Probe(self.options, operations, frozenset({"login"}), client)
        answer = probe.login()
        token = answer.field("access_token")
        if answer.status == 200 and isinstance(token, str) and token:
            return None
        return f"logging in as {probe.body_kind(answer)} gave {answer.answer()} (see login_succeeds)"


def _left_out(named: Sequence[tuple[CheckTable, Check]], operations: Operations) -> list[str]:
    """Kinds of checks left out of the run for the operations they need, and which: 'the oauth checks (token)'."""
    needed: dict[str, list[str]] = {}
    for table, check in named:
        needed.setdefault(table.title, [])
        needed[table.title] += [op for op in operations.left_out(check.needs) if op not in needed[table.title]]
    return [f"{title} (they need {', '.join(ops)})" for title, ops in needed.items()]


def _check_extras(redirect_uri: str, totp_secret: str | None) -> None:
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ContractError(f"{redirect_uri!r}: must be an absolute http:// or https:// URL without a fragment",
                            "redirect_uri")
    if totp_secret is not None:
        try:
            base64.b32decode(totp_secret.replace(" ", "").upper() + "=" * (-len(totp_secret.replace(" ", "")) % 8))
        except (binascii.Error, ValueError):
            raise ContractError("not a base32 TOTP secret (the letters A-Z and digits 2-7)", "totp_secret") from None


def _schemathesis_missing() -> bool:
    try:
        return importlib.util.find_spec("schemathesis") is None
    except ValueError:  # sys.modules["schemathesis"] is None: importing it is blocked
        return True
