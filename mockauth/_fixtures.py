"""Fixture files: the YAML format, its validation, and the User record they hold (the
OAuth clients beside the users are ``_clients.Client``)."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from ._clients import Client, client_from_mapping
from ._errors import ConfigError, FixtureError, ModeError
from ._modes import Arming, arming_from_spec, parse_spec
from ._settings import Settings, check_names
from ._values import check_json, is_text
from ._values import describe as _kind
from ._yaml import load_yaml, parse_yaml

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
        problem = _user_problem(vars(self))  # the fields, read only: no deep copy (asdict)
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
    problems = user_problems(entry)
    return problems[0] if problems else None


def user_problems(entry: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a user entry, each as 'field: reason'."""
    problems = [
        f"{key}: unknown field (fields: {', '.join(_USER_FIELDS)})"
        for key in entry if key not in _USER_FIELDS
    ]
    for key in ("username", "password"):
        if key not in entry:
            problems.append(f"{key}: required")
        elif not is_text(entry[key]) or not entry[key]:
            problems.append(f"{key}: must be a non-empty string, got {_kind(entry[key])}")
    if entry.get("email") is not None and not is_text(entry["email"]):
        problems.append(f"email: must be a string, got {_kind(entry['email'])}")
    problems += _claims_problems(entry.get("claims"))
    for key in ("locked", "disabled", "password_expired"):
        if key in entry and not isinstance(entry[key], bool):
            problems.append(f"{key}: must be true or false, got {_kind(entry[key])}")
    mode = entry.get("mode")
    if mode is not None:
        if not is_text(mode):
            problems.append(f"mode: must be a mode name like 'slow:delay=2', got {_kind(mode)}")
        else:
            try:
                user_arming(mode, "user")
            except ConfigError as error:
                problems.append(f"mode: {error}")
    if entry.get("mfa") is not None:
        problem = _mfa_problem(entry["mfa"])
        if problem is not None:
            problems.append(problem)
    return problems


def _claims_problems(claims: Any) -> list[str]:
    if claims is None:
        return []
    if not isinstance(claims, Mapping):
        return [f"claims: must be a mapping of claim names to values, got {_kind(claims)}"]
    problems = []
    for name in claims:
        if not isinstance(name, str):
            problems.append(f"claims: claim names must be strings, got {name!r}")
        elif name in RESERVED_CLAIMS:
            problems.append(f"claims.{name}: reserved, the mock sets it on every token")
    if not problems:
        try:
            check_json(claims)
        except ValueError as error:
            problems.append(f"claims: {error}")
    return problems


def user_arming(mode: str, username: str) -> Arming:
    """The arming a user's ``mode:`` stands for; ConfigError if it is not one."""
    _, values = parse_spec(mode)
    if "user" in values:
        raise ModeError(f"mode {mode!r}: user: a user's own mode applies to that user; leave user out")
    return arming_from_spec(mode, user=username, source="fixture")


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


class Fixtures(NamedTuple):
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
    OAuth clients) and ``settings:``. A problem raises FixtureError naming the file, the
    entry and the field (the first one found; ``fixture_problems`` lists them all).
    """
    problems: list[str] = []
    fixtures = _read_fixtures(path, problems)
    if problems:
        raise FixtureError(problems[0])
    return fixtures


def fixture_problems(path: str | Path) -> list[str]:
    """Every mistake in a fixture file or folder, each naming file, entry and field."""
    problems: list[str] = []
    try:
        _read_fixtures(path, problems)
    except FixtureError as error:  # the path itself: nothing more to read
        problems.append(str(error))
    return problems


def _read_fixtures(path: str | Path, problems: list[str]) -> Fixtures:
    """The fixtures at `path`, adding each problem found to `problems` and going on
    past it where the rest can still be read."""
    users: dict[str, tuple[User, Path]] = {}
    clients: dict[str, tuple[Client, Path]] = {}
    settings: dict[str, Any] = {}
    files = fixture_files(path)
    for file in files:
        try:
            document = _read_yaml(file)
        except FixtureError as error:
            problems.append(str(error))
            continue
        problems += [
            f"{file}: {key}: unknown top-level key (keys: users, clients, settings)"
            for key in document if key not in ("users", "clients", "settings")
        ]
        block = document.get("settings") or {}
        if not isinstance(block, Mapping):
            problems.append(f"{file}: settings: must be a mapping, got {_kind(block)}")
        else:
            settings.update(_checked_settings(file, block, problems))
        _collect(
            file, document.get("users") or [], "users", "username", user_problems, user_from_mapping,
            users, problems,
        )
        _collect(
            file, document.get("clients") or [], "clients", "client_id", _client_problems, client_from_mapping,
            clients, problems,
        )
    try:
        Settings(**settings)  # what only the settings together can say (HS256 and its secret)
    except ConfigError as error:
        problems.append(f"{', '.join(map(str, files))}: settings: {error}")
    return Fixtures(
        tuple(user for user, _ in users.values()), settings, tuple(files),
        tuple(client for client, _ in clients.values()),
    )


_REQUIRED = {"users": "username and password", "clients": "client_id"}


def _client_problems(entry: Mapping[str, Any]) -> list[str]:
    try:
        client_from_mapping(entry)
    except ConfigError as error:
        return [str(error)]
    return []


def _collect(
    file: Path,
    entries: Any,
    section: str,
    key: str,
    problems_of: Callable[[Mapping[str, Any]], list[str]],
    build: Callable[[Any], _R],
    loaded: dict[str, tuple[_R, Path]],
    problems: list[str],
) -> None:
    """Add the entries of one file's `section` (users, clients) to `loaded`, by their
    `key` field, and a problem naming the file, the entry and the field for each mistake."""
    if not isinstance(entries, list):
        problems.append(f"{file}: {section}: must be a list of {section}, got {_kind(entries)}")
        return
    for index, entry in enumerate(entries):
        label = f"{section}[{index}]"
        if isinstance(entry, Mapping) and is_text(entry.get(key)):
            label += f" ({entry[key]})"
        found = problems_of(entry) if isinstance(entry, Mapping) else [
            f"expected a mapping with {_REQUIRED[section]}, got {_kind(entry)}"
        ]
        if found:
            problems += [f"{file}: {label}: {problem}" for problem in found]
            continue
        record = build(entry)
        name = getattr(record, key)
        if name in loaded:
            problems.append(f"{file}: {label}: {key}: {name!r} is already defined in {loaded[name][1]}")
            continue
        loaded[name] = (record, file)


def _checked_settings(file: Path, block: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """The settings of one file that are right on their own; a problem for each other."""
    kept = {}
    for name, value in block.items():
        try:
            check_names({name: value}, where="settings:")
            Settings(**{name: value, **({"algorithm": "RS256"} if name == "secret" else {})})
        except ConfigError as error:
            where = "" if str(error).startswith("settings:") else "settings: "
            problems.append(f"{file}: {where}{error}")
            continue
        kept[name] = value
    return kept


def _read_yaml(file: Path) -> Mapping[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FixtureError(f"{file}: not UTF-8 text") from None
    except OSError as error:
        raise FixtureError(f"{file}: cannot read: {error.strerror}") from None
    document = load_yaml(text, functools.partial(parse_yaml, file=file, error=FixtureError))
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
