"""The report of a contract run: the table, the failures with their evidence, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .results import FAILED, PASSED, PASSWORD_VARIABLE, SKIPPED, CheckResult


@dataclass
class ContractReport:
    """The outcome of a contract run; ``exit_code`` is what ``mockauth contract`` exits with."""

    target: str
    results: list[CheckResult] = field(default_factory=list)
    duration: float = 0.0

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def result(self, name: str) -> CheckResult:
        for item in self.results:
            if item.name == name:
                return item
        raise KeyError(name)

    def table(self) -> str:
        width = max([len(r.name) for r in self.results] + [5])
        lines = []
        for kind, title in (("auth", "auth checks"), ("schema", "schema checks (schemathesis)")):
            rows = [r for r in self.results if r.kind == kind]
            if not rows:
                continue
            lines.append(f"{title}:")
            for row in rows:
                text = row.description if row.status == PASSED else row.reason
                lines.append(f"  {row.name:<{width}}  {row.status.upper():<7}  {text}")
        return "\n".join(lines)

    def details(self) -> str:
        blocks = []
        for row in self.failed:
            head = f"FAILED {row.name}: {row.reason}\n  check: {row.description}"
            blocks.append("\n".join([head, *row.evidence]))
        return "\n\n".join(blocks)

    def summary(self) -> str:
        counts = {
            status: sum(r.status == status for r in self.results)
            for status in (PASSED, FAILED, SKIPPED)
        }
        verdict = "conforms" if self.ok else "does NOT conform"
        return (
            f"{self.target} {verdict}: {counts[PASSED]} passed, {counts[FAILED]} failed, "
            f"{counts[SKIPPED]} skipped in {self.duration:.1f} s"
        )

    def render(self) -> str:
        parts = [self.table()]
        if self.failed:
            parts.append(self.details())
            if any(f"${PASSWORD_VARIABLE}" in line for r in self.failed for line in r.evidence):
                parts.append(
                    f"(curl lines read the password from ${PASSWORD_VARIABLE}: export it first)"
                )
        parts.append(self.summary())
        return "\n\n".join(parts)

    def junit_xml(self) -> str:
        suite = ET.Element(
            "testsuite",
            name="mockauth contract",
            tests=str(len(self.results)),
            failures=str(len(self.failed)),
            skipped=str(sum(r.status == SKIPPED for r in self.results)),
            errors="0",
            time=f"{self.duration:.3f}",
        )
        suite.set("hostname", self.target)
        for row in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"contract.{row.kind}", name=row.name)
            if row.status == FAILED:
                failure = ET.SubElement(case, "failure", message=row.reason)
                failure.text = "\n".join([row.description, *row.evidence])
            elif row.status == SKIPPED:
                ET.SubElement(case, "skipped", message=row.reason)
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n"
        )
