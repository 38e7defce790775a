"""The package keeps the shape docs/architecture.md draws (lint-imports checks the layers)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mockauth"
MAX_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert sizes, "no modules found"
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}


def test_the_architecture_document_names_every_module() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py") and path.name not in text
    )
    assert missing == []


def test_no_module_of_the_contract_runner_is_over_400_lines() -> None:
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in (PACKAGE / "_contract").glob("*.py")
    }
    assert {name: lines for name, lines in sizes.items() if lines > 400} == {}
