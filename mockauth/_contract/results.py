"""What every part of the contract runner shares: verdicts, limits, the options of a
run, and the result of one check. A leaf: it imports nothing of the runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import MockAuthError

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
PASSWORD_VARIABLE = "MOCKAUTH_CONTRACT_PASSWORD"
USERNAME_VARIABLE = "MOCKAUTH_CONTRACT_USERNAME"
URL_VARIABLE = "MOCKAUTH_CONTRACT_URL"
DEFAULT_TIMEOUT = 10.0
DEFAULT_EXPIRY_WAIT = 10.0
# How far exp - iat may stray from expires_in (whole-second rounding, a slow server).
LIFETIME_TOLERANCE = 5
# How far the target's clock may be behind ours before an issued token counts as already expired.
CLOCK_SKEW = 60
NON_ASCII_USERNAME = "jürgen.größe.用户@example.com"
WRONG_PASSWORD = "mockauth-contract-wrong-password"
SCHEMA_PHASES = ("examples", "coverage", "fuzzing", "stateful")

Progress = Callable[[str], None]


class ContractError(MockAuthError):
    """The contract cannot run: a bad argument, an unreadable spec, an unreachable target."""


@dataclass(frozen=True)
class RunOptions:
    """How to reach the target and what to run: what ``Contract(...)`` was given, checked."""

    url: str
    username: str
    password: str
    spec_path: Path | None = None
    max_examples: int | None = None
    seed: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    excluded: frozenset[str] = frozenset()
    expired_token: str | None = None
    expiry_wait: float = DEFAULT_EXPIRY_WAIT
    schema: bool = True


@dataclass(frozen=True)
class CheckResult:
    """One row of the report: a check, its verdict, and why (always, unless it passed)."""

    name: str
    kind: str  # "auth" or "schema"
    description: str
    status: str  # passed, failed or skipped
    reason: str = ""
    evidence: tuple[str, ...] = ()  # for a failure: what was sent, what came back, a curl line


def clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
