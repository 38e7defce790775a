"""The wheel carries everything `mockauth serve` needs from any directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_spec_fixtures_dashboard_and_types(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("mockauth-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "mockauth/openapi.yaml",
        "mockauth/fixtures/users.yaml",
        "mockauth/dashboard/index.html",
        "mockauth/py.typed",
    } <= names
    assert zipfile.ZipFile(wheel).read("mockauth/openapi.yaml") == (ROOT / "openapi.yaml").read_bytes()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mockauth = mockauth._cli:main" in text
    assert "mockauth = mockauth.pytest_plugin" in text
