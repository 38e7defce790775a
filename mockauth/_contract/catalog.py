"""Every check the runner knows: the tables of its own checks (``TABLES``), and
schemathesis' checks with what each means for a person reading the report.

A new kind of checks (OAuth's token endpoint, MFA, ...) is a module with a ``CheckTable``
of its own, added to ``TABLES``: the run, the report, JUnit XML, ``exclude_checks``,
the baseline and ``contract_test`` follow from it.
"""

from __future__ import annotations

from .challenge import CHALLENGE
from .checks import AUTH
from .oauth import OAUTH
from .probe import Check, CheckTable

TABLES: tuple[CheckTable, ...] = (AUTH, OAUTH, CHALLENGE)

SCHEMA_CHECKS: dict[str, str] = {
    "not_a_server_error": "no request, however odd, gets a 5xx",
    "status_code_conformance": "every status answered is one openapi.yaml lists",
    "content_type_conformance": "every Content-Type answered is one openapi.yaml lists",
    "response_headers_conformance": "required response headers are present and valid",
    "response_schema_conformance": "every answer body matches its schema in openapi.yaml",
    "negative_data_rejection": "requests that break the schema are refused with a 4xx",
    "positive_data_acceptance": "requests that fit the schema are not refused as malformed",
    "missing_required_header": "a request without a required header is refused",
    "unsupported_method": "a method openapi.yaml does not list gets 405",
    "allow_header_conformance": "405 answers carry an Allow header",
    "use_after_free": "a deleted resource is gone",
    "ensure_resource_availability": "a created resource can be read back",
    "ignored_auth": "operations that need a bearer token refuse requests without one",
    "object_level_authorization": "one identity cannot read another's objects",
}
SCHEMA = "schema"  # the name under which the schemathesis run is selected as a whole


def own_checks() -> list[tuple[CheckTable, Check]]:
    return [(table, check) for table in TABLES for check in table.checks]


AUTH_CHECKS = AUTH.checks
AUTH_CHECK_NAMES = tuple(check.name for check in AUTH.checks)
OWN_CHECK_NAMES = tuple(check.name for _, check in own_checks())
CHECK_NAMES = OWN_CHECK_NAMES + tuple(SCHEMA_CHECKS)
