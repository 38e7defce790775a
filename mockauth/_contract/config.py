"""A contract run's settings from a file, so CI and people run the same contract:
``mockauth-contract.toml`` (keys at the top), or ``[tool.mockauth.contract]`` in
``pyproject.toml``, in the directory the command runs in (the first wins), or the file
named by ``--config``. Keys are the flags' names; a secret (the password, the client
secret, the challenge users' passwords, the TOTP secret) is never in the file, only the
name of the environment variable that holds it (``password-env``, ``client-secret-env``,
...). Paths in the file are relative to it. Flags override the file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._values import is_number, is_whole
from .results import ContractError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FILE_NAME = "mockauth-contract.toml"


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(item) for item in value)


def _table(value: Any) -> bool:
    return isinstance(value, dict) and all(_text(k) and _text(v) for k, v in value.items())


# key -> (keyword it sets, whether a value is right, what a right value is, a path relative to the file)
KEYS: dict[str, tuple[str, Callable[[Any], bool], str, bool]] = {
    "url": ("url", _text, "a string", False),
    "username": ("username", _text, "a string", False),
    "password-env": ("password_env", _text, "the name of an environment variable", False),
    "spec": ("spec", _text, "a path", True),
    "operations": ("operations", _texts, "a list of operationIds", False),
    "paths": ("paths", _table, "a table of operationId = path", False),
    "content-type": ("content_type", _text, '"both", "form" or "json"', False),
    "exclude-check": ("exclude_checks", _texts, "a list of check names", False),
    "budget": ("budget", lambda v: is_number(v) and v > 0, "a positive number of seconds", False),
    "max-examples": ("max_examples", lambda v: is_whole(v) and v >= 1, "a whole number, at least 1", False),
    "max-examples-shown": ("max_shown", lambda v: is_whole(v) and v >= 1, "a whole number, at least 1", False),
    "seed": ("seed", is_whole, "a whole number", False),
    "timeout": ("timeout", lambda v: is_number(v) and v > 0, "a positive number of seconds", False),
    "expiry-wait": ("expiry_wait", lambda v: is_number(v) and v > 0, "a positive number of seconds", False),
    "headers": ("headers", _table, "a table of header = value", False),
    "schema": ("schema", lambda v: isinstance(v, bool), "true or false", False),
    "client-id": ("client_id", _text, "a string", False),
    "client-secret-env": ("client_secret_env", _text, "the name of an environment variable", False),
    "redirect-uri": ("redirect_uri", _text, "a URL", False),
    "scope": ("scope", _text, "a string", False),
    "mfa-username": ("mfa_username", _text, "a string", False),
    "mfa-password-env": ("mfa_password_env", _text, "the name of an environment variable", False),
    "totp-secret-env": ("totp_secret_env", _text, "the name of an environment variable", False),
    "expired-username": ("expired_username", _text, "a string", False),
    "expired-password-env": ("expired_password_env", _text, "the name of an environment variable", False),
    "new-password-env": ("new_password_env", _text, "the name of an environment variable", False),
    "junit-xml": ("junit_xml", _text, "a path", True),
    "markdown": ("markdown", _text, "a path", True),
    "baseline": ("baseline", _text, "a path", True),
}


@dataclass(frozen=True)
class FileSettings:
    """What a settings file said, by keyword; ``where(keyword)`` names file and key for errors."""

    path: Path
    values: Mapping[str, Any]
    keys: Mapping[str, str]  # keyword -> the key that set it

    def where(self, keyword: str) -> str:
        prefix = "" if self.path.name == FILE_NAME else "[tool.mockauth.contract] "
        return f"{self.path} ({prefix}{self.keys[keyword]})"


def find(directory: Path, explicit: Path | None = None) -> FileSettings | None:
    """The settings file in force: `explicit`, else mockauth-contract.toml, else
    pyproject.toml with a [tool.mockauth.contract] table; None when there is none."""
    if explicit is not None:
        return read(explicit)
    if (directory / FILE_NAME).is_file():
        return read(directory / FILE_NAME)
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file() and "contract" in _load(pyproject).get("tool", {}).get("mockauth", {}):
        return read(pyproject)
    return None


def read(path: Path) -> FileSettings:
    document = _load(path)
    if path.name == "pyproject.toml":
        table = document.get("tool", {}).get("mockauth", {}).get("contract")
        if not isinstance(table, dict):
            raise ContractError(f"{path}: no [tool.mockauth.contract] table")
    else:
        table = document
    values, keys = {}, {}
    for key, value in table.items():
        if key not in KEYS:
            raise ContractError(f"{path}: unknown key {key!r} (known: {', '.join(KEYS)})")
        keyword, valid, expected, relative = KEYS[key]
        if not valid(value):
            raise ContractError(f"{path}: {key} must be {expected}, not {value!r}")
        values[keyword] = str(path.parent / value) if relative else value
        keys[keyword] = key
    return FileSettings(path, values, keys)


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ContractError(f"{path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ContractError(f"{path}: not valid TOML ({error})") from None
