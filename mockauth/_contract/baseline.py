"""``baseline``: a deployment's failures recorded as known, so that later runs fail only on
findings that are new or changed, and list the known ones apart (drift detection for a
deployment that will never match the spec exactly).

A finding is known when its check and its key match: an auth check's key is its reason
(so a changed answer is a new finding), a schema check's is the operation, the kind of
failure and its first line.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import FAILED, CheckResult, ContractError

FORMAT = "mockauth-contract-baseline"
VERSION = 1


@dataclass(frozen=True)
class Baseline:
    path: Path
    entries: tuple[tuple[str, str, str], ...]  # (check, key, summary)

    def knows(self, check: str, key: str) -> bool:
        return any(entry[0] == check and entry[1] == key for entry in self.entries)

    @classmethod
    def read(cls, path: Path) -> Baseline:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ContractError(
                f"{path}: no such file; record the known failures first (mockauth contract --update-baseline)",
                "baseline",
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ContractError(f"{path}: cannot read it as JSON ({error})", "baseline") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ContractError(f"{path}: not a mockauth contract baseline (no \"format\": \"{FORMAT}\")", "baseline")
        findings = document.get("findings")
        if not isinstance(findings, list) or not all(_is_entry(item) for item in findings):
            raise ContractError(f"{path}: findings must be a list of {{check, key, summary}} strings", "baseline")
        return cls(path, tuple((item["check"], item["key"], item["summary"]) for item in findings))

    @staticmethod
    def write(path: Path, target: str, results: Iterable[CheckResult]) -> int:
        """Record every failure of `results` (new and known) in `path`; the count recorded."""
        findings = [
            {"check": row.name, "key": finding.key, "summary": finding.summary}
            for row in results
            if row.status == FAILED or row.known
            for finding in (*row.findings, *row.known)
        ]
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "target": target,
            "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "findings": findings,
        }
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return len(findings)


def _is_entry(item: Any) -> bool:
    return isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("check", "key", "summary"))
