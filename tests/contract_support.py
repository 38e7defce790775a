"""What the contract runner's tests share: running `mockauth contract` as a user does, and
reading its table back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROW = re.compile(r"^  (\w+)\s+(PASSED|FAILED|SKIPPED|KNOWN)\s+(.*)$")


def mockauth_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockauth", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
    )


def table_rows(stdout: str) -> dict[str, tuple[str, str]]:
    """check name -> (PASSED/FAILED/SKIPPED/KNOWN, text) from the printed tables."""
    rows = {}
    for line in stdout.splitlines():
        match = ROW.match(line)
        if match:
            rows[match[1]] = (match[2], match[3])
    return rows


def failed(stdout: str) -> list[str]:
    """The failures the report details, in its order (each once, if the report is right)."""
    return [line[len("FAILED "):].split(":", 1)[0] for line in stdout.splitlines() if line.startswith("FAILED ")]


def details(stdout: str, name: str) -> str:
    """The FAILED block of one check."""
    return stdout.split(f"\nFAILED {name}: ", 1)[1].split("\n\n", 1)[0]
