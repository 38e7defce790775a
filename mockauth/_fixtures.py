"""Fixture files: the YAML format, its validation, and the User record they hold (the
OAuth clients beside the users are ``_clients.Client``)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ._clients import Client, client_from_mapping
from ._errors import ConfigError, FixtureError
from ._modes import parse_spec
from ._settings import Settings, check_names
from ._values import check_json
from ._values import describe as _kind

# Claims the mock sets itself on every token; a user may not override them.
RESERVED_CLAIMS = frozenset({"sub", "iat", "nbf", "exp", "iss", "aud", "jti"})
_USER_FIELDS = (
    "username", "password", "email", "claims", "locked", "disabled", "mode", "mfa", "password_expired",
)
# What a user's `mfa:` may hold: an RFC 6238 secret, a fixed development code, or both.
MFA_FIELDS = ("totp_secret", "code")
_MFA_EXAMPLE = '{totp_secret: JBSWY3DPEHPK3PXP} or {code: "123456"}'
_BASE32 = re.compile(r"[A-Za-z2-7]+=*")
# The shortest TOTP secret taken: 80 bits, what many authenticator setups hand out.
MIN_SECRET_BITS = 80
_R = TypeVar("_R", "User", Client)


@dataclass(frozen=True)
class User:
    """A user the mock knows. ``mode`` is an error mode that always applies to this user,
    e.g. ``"account_locked"`` or ``"slow:delay=2"``. ``mfa`` asks for a one-time code after
    the password (``{"totp_secret": BASE32}`` and/or a fixed ``{"code": "123456"}``);
    ``password_expired`` asks for a new password first."""

    username: str
    password: str = field(repr=False)
    email: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    locked: bool = False
    disabled: bool = False
    mode: str | None = None
    mfa: Mapping[str, str] | None = field(default=None, repr=False)
    password_expired: bool = False

    def __post_init__(self) -> None:
        problem = _user_problem(dataclasses.asdict(self))
        if problem:
            raise ConfigError(f"user {self.username!r}: {problem}")

    def public(self) -> dict[str, Any]:
        """Everything but the password."""
        return {
            "username": self.username,
            "email": self.email,
            "claims": dict(self.claims),
            "locked": self.locked,
            "disabled": self.disabled,
            "mode": self.mode,
            "mfa": {name: "[redacted]" for name in self.mfa} if self.mfa else None,
            "password_expired": self.password_expired,
        }

    def record(self) -> dict[str, Any]:
        """Everything, secrets included: what a store keeps, what a change starts from."""
        return {**self.public(), "password": self.password, "mfa": dict(self.mfa) if self.mfa else None}


def user_from_mapping(entry: Any) -> User:
    """Build a User from a YAML or JSON mapping; raises ConfigError naming the field."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"expected a mapping with username and password, got {_kind(entry)}")
    problem = _user_problem(entry)
    if problem:
        raise ConfigError(problem)
    values = dict(entry)
    values["claims"] = dict(values.get("claims") or {})
    return User(**values)


def _user_problem(entry: Mapping[str, Any]) -> str | None:
    """The first thing wrong with a user entry, as 'field: reason', or None."""
    for key in entry:
        if key not in _USER_FIELDS:
            return f"{key}: unknown field (fields: {', '.join(_USER_FIELDS)})"
    for key in ("username", "password"):
        if key not in entry:
            return f"{key}: required"
        if not isinstance(entry[key], str) or not entry[key]:
            return f"{key}: must be a non-empty string, got {_kind(entry[key])}"
    if entry.get("email") is not None and not isinstance(entry["email"], str):
        return f"email: must be a string, got {_kind(entry['email'])}"
    claims = entry.get("claims")
    if claims is not None:
        if not isinstance(claims, Mapping):
            return f"claims: must be a mapping of claim names to values, got {_kind(claims)}"
        for name in claims:
            if not isinstance(name, str):
                return f"claims: claim names must be strings, got {name!r}"
            if name in RESERVED_CLAIMS:
                return f"claims.{name}: reserved, the mock sets it on every token"
        try:
            check_json(claims)
        except ValueError as error:
            return f"claims: {error}"
    for key in ("locked", "disabled", "password_expired"):
        if key in entry and not isinstance(entry[key], bool):
            return f"{key}: must be true or false, got {_kind(entry[key])}"
    mode = entry.get("mode")
    if mode is not None:
        if not isinstance(mode, str):
            return f"mode: must be a mode name like 'slow:delay=2', got {_kind(mode)}"
        try:
            parse_spec(mode)
        except ConfigError as error:
            return f"mode: {error}"
    if entry.get("mfa") is not None:
        return _mfa_problem(entry["mfa"])
    return None


def _mfa_problem(mfa: Any) -> str | None:
    if not isinstance(mfa, Mapping):
        return f"mfa: must be a mapping like {_MFA_EXAMPLE}, got {_kind(mfa)}"
    if not mfa:
        return f"mfa: needs totp_secret, code or both, like {_MFA_EXAMPLE}"
    for key in mfa:
        if key not in MFA_FIELDS:
            return f"mfa.{key}: unknown (keys: {', '.join(MFA_FIELDS)})"
    secret = mfa.get("totp_secret")
    if "totp_secret" in mfa and not (isinstance(secret, str) and _base32(secret)):
        return (
            f"mfa.totp_secret: must be an RFC 6238 secret in base32 (A-Z and 2-7) of at least "
            f"{MIN_SECRET_BITS} bits ({MIN_SECRET_BITS // 5} characters), like JBSWY3DPEHPK3PXP"
        )
    code = mfa.get("code")
    if "code" in mfa and not (isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()):
        return f'mfa.code: must be 6 digits in quotes, like "123456", got {_kind(code)}'
    return None


def _base32(text: str) -> bool:
    if not _BASE32.fullmatch(text):
        return False
    bare = text.rstrip("=").upper()
    try:
        return len(base64.b32decode(bare + "=" * (-len(bare) % 8))) * 8 >= MIN_SECRET_BITS
    except binascii.Error:
        return False


@dataclass(frozen=True)
class Fixtures:
    """What a fixtures path holds: its users, OAuth clients and settings, and where they
    came from."""

    users: tuple[User, ...]
    settings: Mapping[str, Any]
    files: tuple[Path, ...]
    clients: tuple[Client, ...] = ()


def fixture_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise FixtureError(f"{path}: no .yaml or .yml files in this folder")
        return files
    if not path.exists():
        raise FixtureError(f"{path}: no such file or folder")
    return [path]


def load_fixtures(path: str | Path) -> Fixtures:
    """Read a fixture file, or every .yaml/.yml file in a folder.

    Each file is a mapping with ``users:`` (a list), and optional ``clients:`` (a list of
    OAuth clients) and ``settings:``. Every problem raises FixtureError naming the file,
    the entry and the field.
    """
    users: dict[str, tuple[User, Path]] = {}
    clients: dict[str, tuple[Client, Path]] = {}
    settings: dict[str, Any] = {}
    files = fixture_files(path)
    for file in files:
        document = _read_yaml(file)
        for key in document:
            if key not in ("users", "clients", "settings"):
                raise FixtureError(f"{file}: {key}: unknown top-level key (keys: users, clients, settings)")
        block = document.get("settings") or {}
        if not isinstance(block, Mapping):
            raise FixtureError(f"{file}: settings: must be a mapping, got {_kind(block)}")
        try:
            check_names(block, where="settings:")
        except ConfigError as error:
            raise FixtureError(f"{file}: {error}") from None
        settings.update(block)
        _load_entries(file, document.get("users") or [], "users", "username", user_from_mapping, users)
        _load_entries(file, document.get("clients") or [], "clients", "client_id", client_from_mapping, clients)
    try:
        Settings(**settings)
    except ConfigError as error:
        raise FixtureError(f"{', '.join(map(str, files))}: settings: {error}") from None
    return Fixtures(
        tuple(user for user, _ in users.values()), settings, tuple(files),
        tuple(client for client, _ in clients.values()),
    )


def _load_entries(
    file: Path,
    entries: Any,
    section: str,
    key: str,
    build: Callable[[Any], _R],
    loaded: dict[str, tuple[_R, Path]],
) -> None:
    """Add the entries of one file's `section` (users, clients) to `loaded`, by their
    `key` field; FixtureError names the file, the entry and the field."""
    if not isinstance(entries, list):
        raise FixtureError(f"{file}: {section}: must be a list of {section}, got {_kind(entries)}")
    for index, entry in enumerate(entries):
        label = f"{section}[{index}]"
        if isinstance(entry, Mapping) and isinstance(entry.get(key), str):
            label += f" ({entry[key]})"
        try:
            record = build(entry)
        except ConfigError as error:
            raise FixtureError(f"{file}: {label}: {error}") from None
        name = getattr(record, key)
        if name in loaded:
            raise FixtureError(f"{file}: {label}: {key}: {name!r} is already defined in {loaded[name][1]}")
        loaded[name] = (record, file)


def _read_yaml(file: Path) -> Mapping[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FixtureError(f"{file}: not UTF-8 text") from None
    except OSError as error:
        raise FixtureError(f"{file}: cannot read: {error.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise FixtureError(f"{file}: invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise FixtureError(f"{file}: invalid YAML: nested too deeply") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise FixtureError(f"{file}: expected a mapping with 'users:' and 'settings:', got {_kind(document)}")
    return document


def index_users(users: Iterable[User]) -> dict[str, User]:
    """Login names (username and email) to users."""
    index: dict[str, User] = {}
    for user in users:
        if user.email:
            index.setdefault(user.email, user)
    for user in users:
        index[user.username] = user
    return index
