"""The report of a contract run: which operations were held to what, a table per kind of
checks, every distinct failure with its evidence, the known ones (baseline) apart; as
text, JUnit XML, and Markdown for a CI job summary."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .baseline import Baseline
from .catalog import TABLES
from .operations import Operations
from .results import (
    FAILED,
    KNOWN,
    PASSED,
    PASSWORD_VARIABLE,
    SECRET_VARIABLES,
    SKIPPED,
    CheckResult,
    Finding,
    PhaseRun,
    RunOptions,
    plural,
)

TITLES = {table.kind: table.title for table in TABLES} | {"schema": "schema checks (schemathesis)"}


@dataclass
class ContractReport:
    """The outcome of a contract run; ``exit_code`` is what ``mockauth contract`` exits with."""

    target: str
    operations: Operations | None = None
    options: RunOptions | None = None
    results: list[CheckResult] = field(default_factory=list)
    phases: list[PhaseRun] = field(default_factory=list)
    duration: float = 0.0
    baseline: Baseline | None = None
    changes: list[str] = field(default_factory=list)  # what the run changed on the target, for its owner
    left_out: list[str] = field(default_factory=list)  # kinds of checks whose operations were not selected

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def ok(self) -> bool:
        """No new failure, and something was proved: a run whose every check was skipped is not a pass."""
        return not self.failed and any(r.status in (PASSED, KNOWN) for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def result(self, name: str) -> CheckResult:
        for item in self.results:
            if item.name == name:
                return item
        raise KeyError(name)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def apply_baseline(self, baseline: Baseline) -> None:
        """Failures the baseline records become known; what is left fails the run."""
        self.baseline = baseline
        for index, row in enumerate(self.results):
            if row.status != FAILED:
                continue
            known = tuple(f for f in row.findings if baseline.knows(row.name, f.key))
            new = tuple(f for f in row.findings if not baseline.knows(row.name, f.key))
            if not known:
                continue
            status, reason = (FAILED, f"{row.reason} ({plural(len(known), 'known failure')} apart)") if new else (
                KNOWN, f"known (baseline): {row.reason}"
            )
            self.results[index] = dataclasses.replace(row, status=status, reason=reason, findings=new, known=known)

    def unseen(self) -> list[str]:
        """Baseline entries this run did not meet: fixed, or not checked this time."""
        if self.baseline is None:
            return []
        met = {(r.name, f.key) for r in self.results for f in (*r.findings, *r.known)}
        return [f"{check}: {summary}" for check, key, summary in self.baseline.entries if (check, key) not in met]

    # -- text ------------------------------------------------------------------------------

    def operations_section(self) -> str:
        if self.operations is None:
            return ""
        missing = {r.name.removesuffix("_offered"): r for r in self.results if r.kind == "operations"}
        option = self.options.option if self.options else (lambda k, v="": f"{k}=")
        lines = [f"operations ({self.operations.spec.path.name}, held against {self.target}):"]
        for name, endpoint in self.operations.offered.items():
            state = f"NOT THERE (see FAILED {name}_offered)" if name in missing else "offered"
            lines.append(f"  {name:<22} {endpoint.label:<36} {state}")
        for endpoint in self.operations.not_offered:
            lines.append(f"  {endpoint.operation:<22} {endpoint.label:<36} not offered ({option('operations')})")
        if self.operations.content_type != "both":
            only = self.operations.content_type
            lines.append(
                f"  request bodies: {only} only ({option('content_type', only)}); openapi.yaml allows form and JSON"
            )
        return "\n".join(lines)

    def table(self) -> str:
        width = max([len(r.name) for r in self.results] + [5])
        lines = []
        for kind, title in TITLES.items():
            rows = [r for r in self.results if r.kind == kind]
            if not rows:
                continue
            reasons = {r.reason for r in rows}
            if len(rows) > 1 and len(reasons) == 1 and all(r.status == SKIPPED for r in rows):
                lines.append(f"{title}: all {len(rows)} SKIPPED: {reasons.pop()}")
                continue
            lines.append(f"{title}:")
            for row in rows:
                text = row.description if row.status == PASSED else row.reason
                lines.append(f"  {row.name:<{width}}  {row.status.upper():<7}  {text}")
        if self.phases:
            lines.append("schema phases:")
            lines += [f"  {phase.name:<9} {phase.summary()}" for phase in self.phases]
        return "\n".join(lines)

    def details(self, max_shown: int | None = None) -> str:
        """Every failed check, and in it every distinct failure with its count; the first
        `max_shown` of each check with what was sent and came back, the rest in one line each."""
        rows = sorted(self.failed, key=lambda r: r.kind != "operations")
        blocks = []
        for row in rows:
            lines = [f"FAILED {row.name}: {row.reason}", f"  check: {row.description}"]
            for number, finding in enumerate(row.findings, 1):
                if finding.summary != row.reason:
                    lines.append(f"  [{number}] {finding.count}x {finding.summary}")
                if max_shown is None or number <= max_shown:
                    lines += finding.evidence
                else:
                    lines.append(f"      (example not shown: {max_shown} shown per check)")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def known_section(self) -> str:
        if self.baseline is None:
            return ""
        known = [(r.name, f) for r in self.results for f in r.known]
        lines = [f"known failures ({self.baseline.path.name}), reported apart and not failing the run:"]
        lines += [f"  {name}: {finding.summary}" for name, finding in known] or ["  (none met this run)"]
        unseen = self.unseen()
        if unseen:
            lines.append("known failures not met this run (fixed, or not checked this time):")
            lines += [f"  {entry}" for entry in unseen]
        return "\n".join(lines)

    def changes_section(self) -> str:
        if not self.changes:
            return ""
        return "\n".join(["changed on the target by this run:", *(f"  {change}" for change in self.changes)])

    def verdict(self) -> str:
        if self.failed:
            return "does NOT conform"
        if self.ok:
            return "conforms" + (" (apart from known failures)" if self.count(KNOWN) else "")
        return "was not checked: every check was skipped"

    def summary(self) -> str:
        counts = f"{self.count(PASSED)} passed, {self.count(FAILED)} failed, {self.count(SKIPPED)} skipped"
        if self.count(KNOWN):
            counts += f", {self.count(KNOWN)} known"
        text = f"{self.target} {self.verdict()}: {counts} in {self.duration:.1f} s"
        not_run = self.not_run()
        return text + (f"; not run: {not_run}" if not_run else "")

    def not_run(self) -> str:
        """What the run left out as a whole, so a pass is read for what it covers."""
        parts = []
        if self.options is not None and not self.options.schema:
            parts.append(f"the schema checks ({self.options.option('schema', 'False')})")
        if self.operations is not None and self.operations.not_offered:
            names = ", ".join(e.operation for e in self.operations.not_offered)
            parts.append(f"operations not offered ({names})")
        if self.left_out:
            option = self.options.option("operations") if self.options else "operations"
            parts.append(f"{'; '.join(self.left_out)}: not among the operations ({option})")
        return "; ".join(parts)

    def render(self, max_shown: int | None = None) -> str:
        parts = [self.operations_section(), self.table()]
        if self.failed:
            parts.append(self.details(max_shown))
        parts.append(self.known_section())
        parts.append(self.changes_section())
        shown = "\n".join(line for r in self.failed for line in r.evidence)
        used = sorted(v for v in set(SECRET_VARIABLES.values()) if f"${v}" in shown)
        if used == [PASSWORD_VARIABLE]:
            parts.append(f"(curl lines read the password from ${PASSWORD_VARIABLE}: export it first)")
        elif used:
            named = ", ".join("$" + variable for variable in used)
            parts.append(f"(curl lines read {named}: export {'it' if len(used) == 1 else 'them'} first)")
        parts.append(self.summary())
        return "\n\n".join(part for part in parts if part)

    # -- for CI ------------------------------------------------------------------------------

    def junit_xml(self) -> str:
        suite = ET.Element(
            "testsuite", name="mockauth contract", tests=str(len(self.results)), failures=str(len(self.failed)),
            skipped=str(self.count(SKIPPED) + self.count(KNOWN)), errors="0", time=f"{self.duration:.3f}",
        )
        suite.set("hostname", self.target)
        for row in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"contract.{row.kind}", name=row.name)
            if row.status == FAILED:
                failure = ET.SubElement(case, "failure", message=row.reason)
                failure.text = "\n".join([row.description, *_finding_lines(row.findings)])
            elif row.status in (SKIPPED, KNOWN):
                ET.SubElement(case, "skipped", message=row.reason)
        root = ET.Element("testsuites")
        root.append(suite)
        ET.indent(root)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    def markdown(self) -> str:
        """A summary for a CI job page (GitHub's $GITHUB_STEP_SUMMARY, GitLab, ...)."""
        icon = "✅" if self.ok else "❌"
        lines = [f"## {icon} mockauth contract: `{self.target}` {self.verdict()}", "", self.summary(), ""]
        if self.operations is not None:
            lines += ["| operation | at | |", "|---|---|---|"]
            missing = {r.name.removesuffix("_offered"): r.reason for r in self.results if r.kind == "operations"}
            for name, endpoint in self.operations.offered.items():
                state = f"❌ {missing[name]}" if name in missing else "offered"
                lines.append(f"| `{name}` | `{endpoint.label}` | {state} |")
            lines += [f"| `{e.operation}` | `{e.label}` | not offered |" for e in self.operations.not_offered]
            lines.append("")
        if self.failed:
            lines += ["### Failures", "", "| check | failure | count |", "|---|---|---|"]
            for row in self.failed:
                for finding in row.findings:
                    lines.append(f"| `{row.name}` | {_cell(finding.summary)} | {finding.count} |")
            lines.append("")
        known = [(r.name, f) for r in self.results for f in r.known]
        if known:
            lines += ["### Known failures (baseline)", ""]
            lines += [f"- `{name}`: {_cell(finding.summary)}" for name, finding in known]
            lines.append("")
        skipped = [r for r in self.results if r.status == SKIPPED]
        if skipped:
            lines += ["<details><summary>Skipped checks, and why</summary>", ""]
            lines += [f"- `{r.name}`: {_cell(r.reason)}" for r in skipped]
            lines += ["", "</details>", ""]
        if self.changes:
            lines += ["### Changed on the target by this run", ""]
            lines += [*(f"- {_cell(change)}" for change in self.changes), ""]
        if self.phases:
            lines += ["Schema phases: " + "; ".join(f"{p.name} {p.summary()}" for p in self.phases), ""]
        return "\n".join(lines)


def _finding_lines(findings: tuple[Finding, ...]) -> list[str]:
    if len(findings) == 1:
        return list(findings[0].evidence)
    lines = []
    for number, finding in enumerate(findings, 1):
        lines += [f"[{number}] {finding.count}x {finding.summary}", *finding.evidence]
    return lines


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
