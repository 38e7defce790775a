"""What every part of the contract runner shares: verdicts, limits, the options of a
run, and the result of one check. A leaf: it imports nothing of the runner."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import MockAuthError

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
KNOWN = "known"  # failed, as recorded in the baseline: reported apart, never fails the run
PASSWORD_VARIABLE = "MOCKAUTH_CONTRACT_PASSWORD"
USERNAME_VARIABLE = "MOCKAUTH_CONTRACT_USERNAME"
URL_VARIABLE = "MOCKAUTH_CONTRACT_URL"
# Every secret a run may be given -> the environment variable that holds it: read from
# there by the CLI (kept out of ps), and named instead of the value in every curl line.
SECRET_VARIABLES = {
    "password": PASSWORD_VARIABLE,
    "client_secret": "MOCKAUTH_CONTRACT_CLIENT_SECRET",
    "mfa_password": "MOCKAUTH_CONTRACT_MFA_PASSWORD",
    "totp_secret": "MOCKAUTH_CONTRACT_TOTP_SECRET",
    "expired_password": "MOCKAUTH_CONTRACT_EXPIRED_PASSWORD",
    "new_password": "MOCKAUTH_CONTRACT_NEW_PASSWORD",
}
# Where the OAuth checks say the code goes: never called (the code is read off the
# redirect), and on loopback, which RFC 8252 7.3 lets a server accept at any port.
DEFAULT_REDIRECT_URI = "http://127.0.0.1/callback"
DEFAULT_TIMEOUT = 10.0
DEFAULT_EXPIRY_WAIT = 10.0
# A default run's whole time: it must fit a CI step against a deployment whose login costs
# about 100 ms of CPU (bench/RESULTS.md, "contract runner").
DEFAULT_BUDGET = 60.0
# How far exp - iat may stray from expires_in (whole-second rounding, a slow server).
LIFETIME_TOLERANCE = 5
# How far the target's clock may be behind ours before an issued token counts as already expired.
CLOCK_SKEW = 60
NON_ASCII_USERNAME = "jürgen.größe.用户@example.com"
WRONG_PASSWORD = "mockauth-contract-wrong-password"
SCHEMA_PHASES = ("examples", "coverage", "fuzzing", "stateful")
CONTENT_TYPES = {"form": "application/x-www-form-urlencoded", "json": "application/json"}
BODIES = ("both", "form", "json")  # what content_type may say: the request bodies the target takes

Progress = Callable[[str], None]

# Keyword of Contract(...) -> its flag, where the flag is not simply the keyword with dashes.
FLAGS = {"exclude_checks": "--exclude-check", "paths": "--path", "headers": "--header", "schema": "--no-schema"}
# A check that needs an option the run was not given names it like this: 'pass --client-id ID'.
VALUES = {"client_id": "ID", "redirect_uri": "URI", "scope": "SCOPE", "totp_secret": "BASE32",
          "mfa_username": "USER", "expired_username": "USER", "new_password": "PASSWORD"}


def flag(keyword: str) -> str:
    return FLAGS.get(keyword, "--" + keyword.replace("_", "-"))


class ContractError(MockAuthError):
    """The contract cannot run: a bad argument, an unreadable spec, an unreachable target.

    ``field`` names the ``Contract`` keyword at fault, when one is (the CLI turns it into
    the flag or the configuration key that gave the value)."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.problem = problem
        self.field = field


@dataclass(frozen=True)
class RunOptions:
    """How to reach the target and what to run: what ``Contract(...)`` was given, checked."""

    url: str
    username: str
    password: str
    spec_path: Path | None = None
    content_type: str = "both"
    max_examples: int | None = None
    seed: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    excluded: frozenset[str] = frozenset()
    expired_token: str | None = None
    expiry_wait: float = DEFAULT_EXPIRY_WAIT
    schema: bool = True
    budget: float = DEFAULT_BUDGET
    # The OAuth checks' client (no secret: a public client) and where its codes go.
    client_id: str | None = None
    client_secret: str | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scope: str | None = None
    # The challenge checks' users: one asked for a one-time code, one whose password expired.
    mfa_username: str | None = None
    mfa_password: str | None = None
    totp_secret: str | None = None
    expired_username: str | None = None
    expired_password: str | None = None
    new_password: str | None = None
    # How reasons name an option: "keyword" (expired_token=) for Python, "flag" for the CLI.
    style: str = "keyword"

    def option(self, keyword: str, value: str = "") -> str:
        """How a reason names an option: '--expired-token TOKEN' or 'expired_token=TOKEN'."""
        if self.style == "flag":
            return flag(keyword) if keyword == "schema" else f"{flag(keyword)} {value}".rstrip()
        if keyword == "paths" and "=" in value:  # --path OP=PATH is a mapping in Python
            operation, _, path = value.partition("=")
            return f"paths={{{operation!r}: {path!r}}}"
        return f"{keyword}={value}"

    def needed(self, keyword: str) -> str:
        """How a skip reason asks for a missing option: '--client-id ID' or 'client_id=ID'."""
        if keyword in SECRET_VARIABLES and self.style == "flag":
            return f"${SECRET_VARIABLES[keyword]} (or {flag(keyword)})"
        return self.option(keyword, VALUES.get(keyword, "..."))

    @property
    def secrets(self) -> dict[str, str]:
        """Each secret given -> the variable curl lines read it from (the first one named wins)."""
        given: dict[str, str] = {}
        for keyword, variable in SECRET_VARIABLES.items():
            value = getattr(self, keyword)
            if value:
                given.setdefault(value, variable)
        return given

    @property
    def login_body(self) -> str:
        """How the auth checks send the login and refresh bodies: form unless only JSON is taken."""
        return "json" if self.content_type == "json" else "form"


@dataclass(frozen=True)
class Finding:
    """One distinct failure of a check: ``key`` is its identity for ``--baseline``."""

    key: str
    summary: str
    count: int = 1
    evidence: tuple[str, ...] = ()  # what was sent, what came back, a curl line


@dataclass(frozen=True)
class CheckResult:
    """One row of the report: a check, its verdict, and why (always, unless it passed)."""

    name: str
    kind: str  # the table it comes from: "auth", "schema", "operations", ...
    description: str
    status: str  # passed, failed, skipped or known
    reason: str = ""
    findings: tuple[Finding, ...] = ()  # failed ones (new ones, under a baseline)
    known: tuple[Finding, ...] = ()  # failed ones the baseline records

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(line for finding in self.findings for line in finding.evidence)


def clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


@dataclass
class PhaseRun:
    """What one schemathesis phase did with its share of the budget."""

    name: str
    share: float  # seconds it was given
    scenarios: int = 0
    cases: int = 0  # requests sent
    seconds: float = 0.0
    stopped: bool = False  # cut at the end of its share
    skipped: str | None = None  # schemathesis' reason, when it did not run

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        text = f"{plural(self.cases, 'case')} in {plural(self.scenarios, 'scenario')}, {self.seconds:.1f} s"
        return text + (f", stopped at its share of the budget ({self.share:.0f} s)" if self.stopped else "")
