"""The error-mode table, and the rules an arming must follow.

A mode is data: what it answers (status, error code, headers) and where it applies.
An *arming* is a mode put into force with a scope: everywhere, for one operation, for
one user, for the next N matching requests, or with a seeded probability. This module
only describes and checks them; ``_state.board`` keeps the armed ones in a store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._errors import ModeError
from ._values import describe, is_number, is_text, is_whole, parse_decimal, parse_integer

TOKEN_OPERATIONS = ("login", "refresh", "mfa", "password", "token")
# The OAuth 2.0 / OpenID Connect endpoints. The login page (authorize, authorize_login)
# and end_session answer browsers, with pages and redirects rather than JSON.
BROWSER_OPERATIONS = ("authorize", "authorize_login", "end_session", "end_session_post")
OAUTH_OPERATIONS = (
    *BROWSER_OPERATIONS, "token", "userinfo", "userinfo_post", "introspect", "revoke",
    "oauth_authorization_server",
)
API_OPERATIONS = (
    "login", "refresh", "me", "logout", "jwks", "openid_configuration", "health", "mfa", "password",
    *OAUTH_OPERATIONS,
)
# The steps of a login: the password, then a one-time code or a new password when the
# user is challenged. Each answers tokens, or the next challenge.
LOGIN_OPERATIONS = ("login", "mfa", "password")
# Where the `expire` effect issues already-expired tokens rather than refusing one.
ISSUING_OPERATIONS = (*LOGIN_OPERATIONS, "token")
# The one-time code a challenge made by the mfa_required mode accepts (besides the
# user's own, when it has one), so any user can pass it.
DEVELOPMENT_CODE = "123456"
_EVERYWHERE = frozenset(API_OPERATIONS)
_JSON = _EVERYWHERE - frozenset(BROWSER_OPERATIONS)
_PASSWORD_CHECKS = frozenset({"login", "token", "authorize_login"})
_BEARER = frozenset({"me", "logout", "userinfo", "userinfo_post"})


@dataclass(frozen=True)
class Mode:
    """One way to fail. ``effect`` says what the app does with it:

    error: answer ``status`` with the JSON error ``error``;
    expire: login issues already-expired tokens, token checks answer ``token_expired``;
    delay: wait ``delay`` seconds first (combines with any other mode);
    malformed: 200 with a JSON content type and a body that is not JSON;
    incomplete: 200 with valid JSON that lacks ``access_token``;
    disconnect: close the connection without an answer;
    challenge: a correct password answers 403 with a challenge (an mfa_token or a
    change_token) instead of tokens.
    """

    name: str
    effect: str
    operations: frozenset[str]
    summary: str
    status: int = 200
    error: str | None = None
    error_description: str = ""
    options: Mapping[str, float] = field(default_factory=dict)
    # Response headers whose value is one of the options: header name -> option name.
    option_headers: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "error": self.error,
            "description": self.summary,
            "operations": sorted(self.operations),
            "options": dict(self.options),
        }


MODES: dict[str, Mode] = {
    mode.name: mode
    for mode in [
        Mode(
            "invalid_credentials", "error", _PASSWORD_CHECKS,
            "Login answers 401 even for the right password (the token endpoint 400 "
            "invalid_grant, the login page its error).",
            401, "invalid_credentials", "The username or password is incorrect.",
        ),
        Mode(
            "expired_token", "expire", _BEARER | {"login", "refresh", "mfa", "password", "token"},
            "Login (and its mfa and password steps) and the token endpoint issue tokens that are "
            "already expired; token checks answer token_expired.",
            401, "token_expired", "The token has expired.",
        ),
        Mode(
            "invalid_token", "error", _BEARER | {"refresh", "mfa", "password", "token"},
            "Every token is refused as invalid (401 invalid_token), mfa_token and change_token too "
            "(the token endpoint 400 invalid_grant).",
            401, "invalid_token", "The token is invalid.",
        ),
        Mode(
            "account_locked", "error", _PASSWORD_CHECKS | {"refresh", "mfa", "password"},
            "Login, refresh and the mfa and password steps answer 403: the account is locked "
            "(the token endpoint 400 invalid_grant, the login page its error).",
            403, "account_locked", "The account is locked.",
        ),
        Mode(
            "account_disabled", "error", _PASSWORD_CHECKS | {"refresh", "mfa", "password"},
            "Login, refresh and the mfa and password steps answer 403: the account is disabled "
            "(the token endpoint 400 invalid_grant, the login page its error).",
            403, "account_disabled", "The account is disabled.",
        ),
        Mode(
            "rate_limited", "error", _EVERYWHERE,
            "429 with Retry-After (option retry_after, seconds).",
            429, "rate_limited", "Too many requests; retry later.",
            {"retry_after": 30}, {"Retry-After": "retry_after"},
        ),
        Mode(
            "server_error", "error", _EVERYWHERE,
            "500 server_error.",
            500, "server_error", "The server failed to handle the request.",
        ),
        Mode(
            "unavailable", "error", _EVERYWHERE,
            "503 with Retry-After (option retry_after, seconds).",
            503, "temporarily_unavailable", "The service is temporarily unavailable.",
            {"retry_after": 30}, {"Retry-After": "retry_after"},
        ),
        Mode(
            "slow", "delay", _EVERYWHERE,
            "Waits (option delay, seconds) before answering; combines with any other mode.",
            options={"delay": 1.0},
        ),
        Mode(
            "malformed_response", "malformed", _JSON,
            "200 with a JSON content type and a body that is not valid JSON.",
        ),
        Mode(
            "incomplete_response", "incomplete", frozenset(TOKEN_OPERATIONS),
            "200 with valid JSON that lacks access_token.",
        ),
        Mode(
            "disconnect", "disconnect", _EVERYWHERE,
            "The connection closes with no response at all.",
        ),
        Mode(
            "mfa_required", "challenge", frozenset({"login", "authorize_login"}),
            "A correct password answers 403 mfa_required with an mfa_token; POST /auth/mfa "
            f"takes it with the code {DEVELOPMENT_CODE} (or the user's own).",
            403, "mfa_required", "A one-time code is required to finish signing in.",
        ),
        Mode(
            "password_expired", "challenge", frozenset({"login", "authorize_login"}),
            "A correct password answers 403 password_expired with a change_token; POST "
            "/auth/password takes it with any new password the password_policy allows.",
            403, "password_expired", "The password has expired; choose a new one.",
        ),
    ]
}


class Applied(NamedTuple):
    """A mode in force for one request, with its options filled in."""

    mode: Mode
    options: Mapping[str, float]

    def headers(self) -> list[tuple[str, str]]:
        return [
            (header, str(int(self.options[option])))
            for header, option in self.mode.option_headers.items()
        ]


@dataclass(frozen=True)
class Arming:
    """A mode armed with a scope. ``times`` counts down and disarms it at zero.

    A record, never changed in place: what ``fail()`` returns is the arming as armed,
    on every store; the board's ``armed()`` says what is left of ``times`` now."""

    id: int
    mode: Mode
    options: dict[str, float]
    operation: str | None = None
    user: str | None = None
    times: int | None = None
    probability: float | None = None
    seed: int | None = None
    source: str = "api"

    @property
    def rank(self) -> int:
        """Most specific first: user and operation, user, operation, everywhere."""
        if self.user is not None:
            return 1 if self.operation is not None else 2
        return 3 if self.operation is not None else 4

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.mode.name,
            "operation": self.operation,
            "user": self.user,
            "times": self.times,
            "probability": self.probability,
            "seed": self.seed,
            "options": dict(self.options),
            "source": self.source,
        }


class Selection(NamedTuple):
    """What a request gets: at most one failure, and a delay from `slow`.

    ``deferred``: the arming of the failure when its ``times`` is to be counted only if
    the failure takes effect (``expired_token`` on login: only a login that issues a
    token uses one up, not one refused for its password)."""

    failure: Applied | None = None
    delay: Applied | None = None
    deferred: Arming | None = None

    @property
    def names(self) -> list[str]:
        return [applied.mode.name for applied in (self.delay, self.failure) if applied]


NOTHING = Selection()


def counted_when_applied(mode: Mode, operation: str) -> bool:
    """Whether an arming's ``times`` is counted by the handler, once the mode took effect,
    rather than when the mode is chosen."""
    return mode.effect in ("expire", "challenge") and operation in LOGIN_OPERATIONS


def lookup(name: str) -> Mode:
    try:
        return MODES[name]
    except KeyError:
        raise ModeError(
            f"unknown mode {name!r} (known: {', '.join(sorted(MODES))})"
        ) from None


def fill_options(mode: Mode, given: Mapping[str, Any]) -> dict[str, float]:
    """The mode's default options overridden by `given`, each checked."""
    options = dict(mode.options)
    for key, value in given.items():
        if key not in mode.options:
            known = ", ".join(mode.options) or "none"
            raise ModeError(f"mode {mode.name!r}: unknown option {key!r} (options: {known})")
        try:
            number = parse_decimal(value) if isinstance(value, str) else value
        except ValueError:
            number = None
        if not is_number(number):
            raise ModeError(
                f"mode {mode.name!r}: option {key!r} must be a number, got {value!r}"
            ) from None
        if not 0 <= number <= 86400:
            raise ModeError(
                f"mode {mode.name!r}: option {key!r} must be between 0 and 86400, got {value!r}"
            )
        options[key] = float(number)
    return options


SCOPE_KEYS = ("operation", "user", "times", "probability", "seed")
# A count as large as anyone means by "many", and small enough for every store to count.
MAX_TIMES = 1_000_000_000


def parse_spec(text: str) -> tuple[str, dict[str, str]]:
    """``"slow:delay=2:times=3"`` -> ``("slow", {"delay": "2", "times": "3"})``."""
    if not isinstance(text, str):
        raise ModeError(f"a mode is named by text, like 'rate_limited' or 'slow:delay=2', got {describe(text)}")
    name, *pairs = [part.strip() for part in text.strip().split(":")]
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ModeError(f"mode {text!r}: expected NAME[:option=value...], got {pair!r}")
        values[key.strip()] = value.strip()
    lookup(name)
    return name, values


def new_arming(
    name: str,
    *,
    operation: str | None = None,
    user: str | None = None,
    times: int | None = None,
    probability: float | None = None,
    seed: int | None = None,
    source: str = "api",
    **options: Any,
) -> Arming:
    """A checked arming (id 0: the store that keeps it gives it its id); ModeError names
    the scope or option at fault."""
    mode = lookup(name)
    if operation is not None:
        if operation not in API_OPERATIONS:
            raise ModeError(
                f"mode {name!r}: unknown operation {operation!r} "
                f"(operations: {', '.join(API_OPERATIONS)})"
            )
        if operation not in mode.operations:
            raise ModeError(
                f"mode {name!r} does not apply to operation {operation!r} "
                f"(it applies to: {', '.join(sorted(mode.operations))})"
            )
    if user is not None and (not is_text(user) or not user):
        raise ModeError(f"mode {name!r}: user must be a non-empty string, got {user!r}")
    if times is not None and (not is_whole(times) or not 1 <= times <= MAX_TIMES):
        raise ModeError(
            f"mode {name!r}: times must be a whole number from 1 to {MAX_TIMES}, got {times!r}"
        )
    if probability is not None and (not is_number(probability) or not 0 <= probability <= 1):
        raise ModeError(
            f"mode {name!r}: probability must be a number from 0 to 1, got {probability!r}"
        )
    if seed is not None and not is_whole(seed):
        raise ModeError(f"mode {name!r}: seed must be a whole number, got {seed!r}")
    filled = fill_options(mode, options)
    return Arming(
        0, mode, filled, operation, user, times,
        None if probability is None else float(probability), seed, source,
    )


def arming_from_spec(text: str, *, source: str = "api", **scope: Any) -> Arming:
    """A checked arming from ``NAME[:key=value...]``, where keys are scope keys or mode
    options: ``"rate_limited:operation=login:times=2"``."""
    name, values = parse_spec(text)
    options = MODES[name].options
    kwargs: dict[str, Any] = dict(scope)
    for key, value in values.items():
        if key not in SCOPE_KEYS and key not in options:
            raise ModeError(
                f"mode {text!r}: unknown key {key!r} (scope keys: {', '.join(SCOPE_KEYS)}; "
                f"options of {name}: {', '.join(options) or 'none'})"
            )
        if key in ("times", "seed"):
            kwargs[key] = _number(name, key, value, parse_integer)
        elif key == "probability":
            kwargs[key] = _number(name, key, value, parse_decimal)
        else:
            kwargs[key] = value
    return new_arming(name, source=source, **kwargs)


def parse_header(value: str) -> list[Applied]:
    """The ``X-Mockauth-Mode`` header: ``name[:option=value...]``, comma-separated."""
    applied = []
    for item in value.split(","):
        if not item.strip():
            continue
        name, values = parse_spec(item)
        mode = MODES[name]
        applied.append(Applied(mode, fill_options(mode, values)))
    return applied


def _number(name: str, key: str, value: str, parse: Callable[[str], float]) -> Any:
    try:
        return parse(value)
    except ValueError:
        raise ModeError(f"mode {name!r}: {key} must be a number, got {value!r}") from None
