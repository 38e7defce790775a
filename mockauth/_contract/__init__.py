"""The contract runner: hold any deployment of the auth API to ``openapi.yaml``.

Two kinds of checks, one report:

* **our own checks**, in tables (``catalog.TABLES``; the auth checks of ``checks.AUTH``):
  the rules of an auth server that a schema cannot express - wrong passwords refused alike
  for known and unknown users, JWTs that expire, tampered or ``alg: none`` tokens refused,
  refresh tokens that rotate, logout that revokes. Each logs in on its own, so any one can
  run alone. They need only the standard library (``client``, ``probe``).
* **schema checks** (``schema``): schemathesis (the ``contract`` extra) with all its
  checks and the examples, coverage, fuzzing and stateful phases, bearer auth obtained
  by logging in with the same credentials and renewed on 401.

A run holds the deployment to the operations it offers, at its own paths (``operations``);
mock-only operations never take part. ``runner`` runs it all within a time budget
(``budget``) into a ``report``; ``baseline`` sets known failures apart; ``config`` reads
the settings of a project's file; ``testcase`` makes it a pytest test; ``results`` is the
leaf every part shares.
"""

from __future__ import annotations

from .catalog import AUTH_CHECK_NAMES, AUTH_CHECKS, CHECK_NAMES, SCHEMA, SCHEMA_CHECKS, TABLES
from .probe import Check, CheckTable
from .report import ContractReport
from .results import (
    PASSWORD_VARIABLE,
    URL_VARIABLE,
    USERNAME_VARIABLE,
    CheckResult,
    ContractError,
)
from .runner import Contract
from .testcase import contract_test

__all__ = [
    "AUTH_CHECKS",
    "AUTH_CHECK_NAMES",
    "CHECK_NAMES",
    "PASSWORD_VARIABLE",
    "SCHEMA",
    "SCHEMA_CHECKS",
    "TABLES",
    "URL_VARIABLE",
    "USERNAME_VARIABLE",
    "Check",
    "CheckResult",
    "CheckTable",
    "Contract",
    "ContractError",
    "ContractReport",
    "contract_test",
]
