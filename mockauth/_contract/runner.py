"""The contract runner: the auth checks, then the schemathesis phases, one report.

>>> report = Contract("http://127.0.0.1:8765", username="u", password="p").run()  # doctest: +SKIP
>>> print(report.render()); report.exit_code                                       # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from .._spec import load_spec
from .checks import AUTH_CHECKS, CHECK_NAMES, SCHEMA, SCHEMA_CHECKS, AuthCheck
from .client import Client
from .probe import Failed, Probe, Skipped
from .report import ContractReport
from .results import (
    DEFAULT_EXPIRY_WAIT,
    DEFAULT_TIMEOUT,
    FAILED,
    PASSED,
    SKIPPED,
    CheckResult,
    ContractError,
    Progress,
    RunOptions,
)


class Contract:
    """A contract run against the auth API at `url`, logging in as `username`.

    >>> contract = Contract("https://auth.example", username="ci", password=pw)  # doctest: +SKIP
    >>> report = contract.run(progress=print)  # doctest: +SKIP
    >>> report.ok, report.result("logout_revokes").status  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        username: str,
        password: str,
        spec: str | Path | None = None,
        max_examples: int | None = None,
        seed: int | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        exclude_checks: Iterable[str] = (),
        expired_token: str | None = None,
        expiry_wait: float = DEFAULT_EXPIRY_WAIT,
        schema: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ContractError(f"URL {url!r}: must be an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 - a bad port raises only when read
        except ValueError:
            raise ContractError(f"URL {url!r}: the port is not a number from 0 to 65535") from None
        if not username:
            raise ContractError("username: must not be empty")
        if not password:
            raise ContractError("password: must not be empty")
        if max_examples is not None and max_examples < 1:
            raise ContractError(f"max_examples: must be at least 1, not {max_examples}")
        if timeout <= 0:
            raise ContractError(f"timeout: must be a positive number of seconds, not {timeout}")
        self.excluded = frozenset(exclude_checks)
        unknown = sorted(self.excluded - set(CHECK_NAMES))
        if unknown:
            raise ContractError(f"check {unknown[0]!r}: unknown (known: {', '.join(CHECK_NAMES)})")
        for name, value in (headers or {}).items():
            if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
                raise ContractError(f"header {name!r}: not a valid header")
        spec_path = Path(spec) if spec is not None else None
        load_spec(spec_path)  # an unreadable spec is bad usage, found before any request
        self.options = RunOptions(
            url.rstrip("/"), username, password, spec_path, max_examples, seed,
            dict(headers or {}), timeout, self.excluded, expired_token, expiry_wait, schema,
        )
        self.url = self.options.url
        self.password = password

    # -- running -------------------------------------------------------------------------

    def ensure_reachable(self) -> None:
        """Raise ContractError unless something answers HTTP at the URL."""
        options = self.options
        answer = Client(options.url, options.headers, options.timeout).send("GET", "/")
        if answer.status is None:
            raise ContractError(f"cannot reach {self.url}: {answer.error}")

    def run(
        self, *, only: Iterable[str] | None = None, progress: Progress | None = None
    ) -> ContractReport:
        """Run the checks (all, or `only` these names; ``"schema"`` selects every schema
        check) and return the report. Raises ContractError if the target is unreachable."""
        say = progress or (lambda _: None)
        chosen = set(only) if only is not None else None
        unknown = sorted((chosen or set()) - set(CHECK_NAMES) - {SCHEMA})
        if unknown:
            raise ContractError(f"check {unknown[0]!r}: unknown (known: {', '.join(CHECK_NAMES)})")
        started = time.monotonic()
        self.ensure_reachable()
        report = ContractReport(self.url)
        auth_checks = [c for c in AUTH_CHECKS if chosen is None or c.name in chosen]
        if auth_checks:
            say(f"auth checks against {self.url}:")
        for check in auth_checks:
            result = self.run_auth_check(check)
            report.results.append(result)
            say(
                f"  {result.status:<7} {result.name}"
                + (f" ({result.reason})" if result.reason else "")
            )
        schema_names = [
            n for n in SCHEMA_CHECKS if chosen is None or SCHEMA in chosen or n in chosen
        ]
        if schema_names:
            report.results.extend(self.run_schema(schema_names, say))
        report.duration = time.monotonic() - started
        return report

    def run_auth_check(self, check: AuthCheck) -> CheckResult:
        if check.name in self.excluded:
            return CheckResult(
                check.name, "auth", check.description, SKIPPED, "excluded (--exclude-check)"
            )
        try:
            check.run(Probe(self.options))
        except Failed as failure:
            evidence = tuple(exchange.describe(self.password) for exchange in failure.exchanges)
            return CheckResult(
                check.name, "auth", check.description, FAILED, failure.reason, evidence
            )
        except Skipped as skip:
            return CheckResult(check.name, "auth", check.description, SKIPPED, skip.reason)
        return CheckResult(check.name, "auth", check.description, PASSED)

    def run_schema(self, names: Sequence[str], say: Progress) -> list[CheckResult]:
        """The schemathesis phases; one result per schemathesis check."""

        def skipped(reason: str) -> list[CheckResult]:
            return [CheckResult(n, "schema", SCHEMA_CHECKS[n], SKIPPED, reason) for n in names]

        if not self.options.schema:
            return skipped("schema checks turned off (--no-schema)")
        try:
            from .schema import run_schemathesis
        except ImportError as error:
            return skipped(
                f"schemathesis is not installed ({error.name}): pip install 'mockauth[contract]'"
            )
        return run_schemathesis(self.options, names, say)
