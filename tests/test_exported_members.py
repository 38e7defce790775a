from __future__ import annotations

import subprocess
import sys

import pytest

import mockauth


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in dir(mockauth) if name[0] not in "_@" and name != "annotations"}
    assert mockauth.__all__ == sorted(mockauth.__all__)
    assert public - {"pytest_plugin"} == set(mockauth.__all__)
    for name in mockauth.__all__:
        assert getattr(mockauth, name) is not None, name


def test_every_error_is_a_mockauth_error() -> None:
    for name in mockauth.__all__:
        value = getattr(mockauth, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, mockauth.MockAuthError), name


@pytest.mark.parametrize("module", ["mockauth", "mockauth.pytest_plugin"])
def test_import_mockauth_loads_nothing_heavy(module: str) -> None:
    # Every pytest run in an environment with mockauth installed imports it (the plugin);
    # tests/test_pytest_plugin.py checks a whole pytest run with the plugin loaded.
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    loaded = set(result.stdout.split())
    heavy = {
        "mockauth._contract", "mockauth._mock", "mockauth._app", "schemathesis", "jwt",
        "cryptography", "requests", "responses", "httpx", "werkzeug", "yaml",
    }
    assert loaded & heavy == set()
