from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError
from ._values import is_whole

ALGORITHMS = ("HS256", "RS256", "ES256")
# Known to every copy of mockauth: fine on loopback, refused on any other address.
DEFAULT_SECRET = "mockauth-default-secret-not-for-production-use"
# Any dev server on this machine (Vite :5173, webpack :8080, ...), and nothing else.
DEFAULT_CORS_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*")
# The issuer of tokens minted outside any request (``MockAuth.issue_token``, ``mockauth
# token``) when neither issuer nor public_url is set: where ``mockauth serve`` listens.
DEFAULT_ISSUER = "http://127.0.0.1:8765"


def _doc(text: str) -> dict[str, str]:
    return {"help": text}


# The rules of a password policy: each the least count of something a new password needs.
_POLICY_RULES: dict[str, tuple[typing.Callable[[str], int], str]] = {
    "min_length": (len, "characters"),
    "uppercase": (lambda text: sum(c.isupper() for c in text), "uppercase letters"),
    "lowercase": (lambda text: sum(c.islower() for c in text), "lowercase letters"),
    "digits": (lambda text: sum(c.isdigit() for c in text), "digits"),
    "symbols": (lambda text: sum(not c.isalnum() for c in text), "symbols (neither letters nor digits)"),
}


@dataclass(frozen=True, kw_only=True)
class PasswordPolicy:
    """What a new password needs (``POST /auth/password``): each rule is a least count.

    Given as a mapping (``{min_length: 12, digits: 1}`` in YAML or Python) or, on the
    command line, as ``min_length=12,digits=1``.
    """

    min_length: int = 8
    uppercase: int = 0
    lowercase: int = 0
    digits: int = 0
    symbols: int = 0

    def broken_rule(self, password: str) -> tuple[str, str] | None:
        """The first rule `password` breaks, as (rule, what it needs), or None."""
        for rule, (count, what) in _POLICY_RULES.items():
            needed: int = getattr(self, rule)
            if count(password) < needed:
                return rule, f"at least {needed} {what}"
        return None

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return ",".join(f"{rule}={value}" for rule, value in self.as_dict().items() if value)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every option of the mock, under the same name everywhere.

    The names are the keywords of ``MockAuth(...)``, the keys of a fixture file's
    ``settings:`` block, the ``mockauth serve`` flags (``--access-token-lifetime``) and
    the keywords of ``@pytest.mark.mockauth(...)``.
    """

    issuer: str | None = field(
        default=None,
        metadata=_doc(
            "the iss claim of every token and the discovery document's issuer "
            "(default: the URL the mock is reached at, or public_url)"
        ),
    )
    audience: str = field(default="mockauth", metadata=_doc("the aud claim of every token"))
    algorithm: str = field(default="HS256", metadata=_doc("JWT signing algorithm: HS256, RS256 or ES256"))
    secret: str = field(
        default=DEFAULT_SECRET, metadata=_doc("HMAC secret for HS256, at least 32 bytes")
    )
    key_file: str | None = field(
        default=None,
        metadata=_doc("PEM private key for RS256/ES256 (generated at start when not given)"),
    )
    access_token_lifetime: int = field(default=900, metadata=_doc("access token lifetime, seconds"))
    refresh_token_lifetime: int = field(
        default=86400, metadata=_doc("refresh token lifetime, seconds")
    )
    max_body_size: int = field(
        default=65536, metadata=_doc("largest request body accepted, bytes (413 beyond)")
    )
    mode_header: bool = field(
        default=True, metadata=_doc("honour the X-Mockauth-Mode request header")
    )
    journal_size: int = field(
        default=1000, metadata=_doc("journal entries kept; the oldest are dropped beyond it")
    )
    cors_origins: tuple[str, ...] = field(
        default=DEFAULT_CORS_ORIGINS,
        metadata=_doc(
            "browser origins allowed to call the mock, comma-separated; '*' in a port or "
            "host part is a wildcard, a lone '*' allows every origin"
        ),
    )
    state: str = field(
        default="memory",
        metadata=_doc(
            "where tokens, modes, clock, users and journal live: memory (this process) or "
            "redis://HOST:PORT/DB, shared by every worker and machine pointed at it"
        ),
    )
    state_namespace: str = field(
        default="default",
        metadata=_doc("prefix of this mock's keys in a shared Redis (mockauth:NAMESPACE:...)"),
    )
    admin_token: str | None = field(
        default=None,
        metadata=_doc(
            "token the control API and dashboard require (X-Mockauth-Admin-Token header); "
            "generated and printed when serving on a non-loopback address without one"
        ),
    )
    read_timeout: int = field(
        default=30, metadata=_doc("seconds a live-server client may stay silent mid-request")
    )
    tls: bool = field(
        default=False,
        metadata=_doc(
            "serve HTTPS with a certificate from mockauth's local certificate authority "
            "(made once, kept in your data folder: mockauth tls trust)"
        ),
    )
    tls_cert: str | None = field(
        default=None,
        metadata=_doc("PEM certificate (and chain) to serve HTTPS with instead; needs tls_key"),
    )
    tls_key: str | None = field(
        default=None, metadata=_doc("PEM private key of tls_cert (unencrypted)")
    )
    password_policy: PasswordPolicy = field(
        default=PasswordPolicy(),
        metadata=_doc(
            "what a new password needs at POST /auth/password, as least counts: "
            "min_length=12,uppercase=1,lowercase=1,digits=1,symbols=1"
        ),
    )
    mfa_max_attempts: int = field(
        default=5, metadata=_doc("wrong one-time codes in a row before the account locks")
    )
    challenge_lifetime: int = field(
        default=300, metadata=_doc("seconds an mfa_token or change_token stays valid (mock clock)")
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Host names a live server answers besides loopback names, IP addresses and the "
            "address it is bound to (guards against DNS rebinding), comma-separated; "
            "'*.example.test' is any subdomain, a lone '*' turns the check off"
        ),
    )
    public_url: str | None = field(
        default=None,
        metadata=_doc(
            "the URL clients reach the mock at when it differs from what the mock sees "
            "(behind a proxy): the discovery document's endpoints, the login page's "
            "redirects and the default issuer"
        ),
    )

    def __post_init__(self) -> None:
        # A list from YAML or a comma-separated string from Python, checked once here.
        object.__setattr__(self, "cors_origins", parse_origins(self.cors_origins))
        object.__setattr__(self, "password_policy", parse_policy(self.password_policy))
        object.__setattr__(self, "allowed_hosts", parse_hosts(self.allowed_hosts))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = _TYPES[f.name]
            if value is None and f.default is None:
                continue
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(
                    f"setting {f.name!r}: expected {expected.__name__}, got {value!r}"
                )
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(
                f"setting 'algorithm': {self.algorithm!r} is not one of {', '.join(ALGORITHMS)}"
            )
        if self.algorithm == "HS256" and len(self.secret.encode()) < 32:
            raise ConfigError(
                "setting 'secret': an HS256 secret must be at least 32 bytes (RFC 7518 3.2)"
            )
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ConfigError("setting 'admin_token': must be at least 16 characters")
        for name in (
            "access_token_lifetime", "refresh_token_lifetime", "max_body_size", "journal_size",
            "read_timeout", "mfa_max_attempts", "challenge_lifetime",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"setting {name!r}: must be a positive number")
        for name in ("issuer", "audience"):
            if getattr(self, name) == "":
                raise ConfigError(f"setting {name!r}: must not be empty")
        if self.public_url is not None:
            if not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", self.public_url):
                raise ConfigError(
                    f"setting 'public_url': expected an http:// or https:// URL, got {self.public_url!r}"
                )
            object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        if self.state != "memory" and not _is_redis_url(self.state):
            raise ConfigError(
                f"setting 'state': expected memory or redis://HOST:PORT/DB, got {self.state!r}"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise ConfigError(f"setting {given!r}: needs {missing} too (the certificate and its key)")
        if self.tls_cert is not None:
            # Your own certificate is served over HTTPS, whether or not `tls` says so.
            object.__setattr__(self, "tls", True)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.state_namespace):
            raise ConfigError(
                "setting 'state_namespace': 1 to 64 letters, digits, '_', '.' or '-', "
                f"got {self.state_namespace!r}"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed; unknown names raise ConfigError."""
        check_names(changes)
        return dataclasses.replace(self, **changes)

    def public(self) -> dict[str, Any]:
        """The settings without the secret, for the control API."""
        values = dataclasses.asdict(self)
        values["secret"] = "[redacted]" if self.algorithm == "HS256" else None
        values["admin_token"] = None if self.admin_token is None else "[redacted]"
        values["state"] = re.sub(r"//[^@/]*:[^@/]*@", "//[redacted]@", self.state)
        return values


def _field_types() -> dict[str, type]:
    """Each setting's type, read off the annotations (``str | None`` gives ``str``,
    ``tuple[str, ...]`` gives ``tuple``)."""
    types: dict[str, type] = {}
    for name, hint in typing.get_type_hints(Settings).items():
        if typing.get_origin(hint) is tuple:
            types[name] = tuple
            continue
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        types[name] = args[0] if args else hint
    return types


_TYPES = _field_types()


def check_names(values: Mapping[str, Any], where: str = "setting") -> None:
    unknown = [name for name in values if name not in Settings.names()]
    if unknown:
        raise ConfigError(
            f"{where} {unknown[0]!r}: unknown (known: {', '.join(Settings.names())})"
        )


def parse_setting(name: str, text: str) -> Any:
    """Turn a command-line string into the setting's type."""
    expected = _TYPES[name]
    if expected is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"setting {name!r}: expected true or false, got {text!r}")
    if expected is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"setting {name!r}: expected a whole number, got {text!r}") from None
    if name == "cors_origins":
        return parse_origins(text)
    if name == "password_policy":
        return parse_policy(text)
    if name == "allowed_hosts":
        return parse_hosts(text)
    return text


def parse_policy(value: Any) -> PasswordPolicy:
    """A password policy from a mapping of rules, or ``min_length=12,digits=1`` text."""
    if isinstance(value, PasswordPolicy):
        return value
    where = "setting 'password_policy'"
    rules = ", ".join(_POLICY_RULES)
    if isinstance(value, str):
        pairs = [item.strip() for item in value.split(",") if item.strip()]
        given: dict[str, Any] = {}
        for pair in pairs:
            rule, sep, number = (part.strip() for part in pair.partition("="))
            if not sep or not number.isdigit():
                raise ConfigError(f"{where}: expected RULE=NUMBER[,RULE=NUMBER...], got {pair!r}")
            given[rule] = int(number)
        value = given
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of rules ({rules}), got {value!r}")
    for rule, number in value.items():
        if rule not in _POLICY_RULES:
            raise ConfigError(f"{where}: unknown rule {rule!r} (rules: {rules})")
        if not is_whole(number) or not 0 <= number <= 1024:
            raise ConfigError(f"{where}: {rule} must be a whole number from 0 to 1024, got {number!r}")
    if value.get("min_length", 1) < 1:
        raise ConfigError(f"{where}: min_length must be at least 1")
    return PasswordPolicy(**value)


def _is_redis_url(url: str) -> bool:
    if not re.fullmatch(r"rediss?://[^/\s]+(/\d+)?/?", url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number, or out of range
    except ValueError:
        return False
    return bool(parts.hostname)


_ORIGIN = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>\[[0-9a-f:.*]+\]|[a-z0-9.*-]+)(?::(?P<port>\d+|\*))?"
)


def _items(name: str, value: Any, what: str) -> list[Any]:
    """A setting's items, from a comma-separated string or a list."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ConfigError(f"setting {name!r}: expected a list of {what}, got {value!r}")


_HOST = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*|\[?[0-9a-f:.]+\]?")


def parse_hosts(value: Any) -> tuple[str, ...]:
    """Allowed Host names from a comma-separated string or a list: ``*`` (any host),
    a name (``mock.example.test``), or ``*.`` and a name for any subdomain of it."""
    hosts = []
    for item in _items("allowed_hosts", value, "host names"):
        if not isinstance(item, str):
            raise ConfigError(f"setting 'allowed_hosts': expected host names as text, got {item!r}")
        host = item.strip().rstrip(".").lower()
        if host != "*" and not _HOST.fullmatch(host):
            raise ConfigError(
                f"setting 'allowed_hosts': {item!r} is not a host name like mock.example.test, "
                "*.example.test or *"
            )
        hosts.append(host)
    return tuple(hosts)


def parse_origins(value: Any) -> tuple[str, ...]:
    """Allowed CORS origins from a comma-separated string or a list of strings.

    Each is ``*`` (any origin), ``null`` (pages opened from ``file://``), or
    ``scheme://host[:port]`` where ``*`` may stand for the port or part of the host.
    """
    origins = []
    for item in _items("cors_origins", value, "origins"):
        if not isinstance(item, str):
            raise ConfigError(f"setting 'cors_origins': expected origins as text, got {item!r}")
        origin = item.strip().rstrip("/").lower()
        if origin not in ("*", "null") and not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"setting 'cors_origins': {item!r} is not an origin like "
                "http://localhost:5173, http://localhost:* or *"
            )
        origins.append(origin)
    return tuple(origins)
