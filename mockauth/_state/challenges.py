"""Login challenges: a one-time code or a new password between a correct password and
the tokens.

Plain functions over the state, for any page or endpoint that signs users in: ``start``
after a correct password, ``verify_code`` with an mfa_token and a code, and
``change_password`` with a change_token and a new password. Each answers the next step:
a ``Challenge`` to put to the user, or the ``User``, signed in (the caller hands out its
tokens, or an authorization code). A refusal is a ``ChallengeError`` carrying the API's
error code. Codes are RFC 6238 TOTP (30-second steps, 6 digits, pyotp) at the mock
clock's time, or a fixed development code.
"""

from __future__ import annotations

import functools
import hmac
from typing import TYPE_CHECKING, Any, NamedTuple

from .._fixtures import MIN_SECRET_BITS, User
from .._modes import DEVELOPMENT_CODE
from .._random import token_urlsafe
from .._settings import PasswordPolicy, Settings
from .clock import Clock
from .stores import ChallengeStore
from .stores.challenges import ChallengeRecord
from .users import Users

if TYPE_CHECKING:
    import pyotp

TOTP_STEP = 30  # seconds (RFC 6238's X)


class Kind(NamedTuple):
    """A kind of challenge: the error a login answers with, and the field of its token."""

    error: str
    description: str
    token_field: str


# In the order a login meets them: a new password first, then the code (as Okta and
# Auth0 do: the code proves the person, once the password is one they may keep).
KINDS = {
    "password": Kind(
        "password_expired",
        "The password has expired: send a new one to POST /auth/password with the change_token.",
        "change_token",
    ),
    "mfa": Kind(
        "mfa_required",
        "A one-time code is required: send it to POST /auth/mfa with the mfa_token.",
        "mfa_token",
    ),
}


class ChallengeError(Exception):
    """A challenge step refused: ``code`` is the API's error code (invalid_token,
    invalid_mfa_code, weak_password, account_locked), ``details`` extra answer fields."""

    def __init__(self, code: str, description: str, **details: Any) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.details = details


class Challenge(NamedTuple):
    """What to ask the user next, and the token that carries the login to that step."""

    kind: str
    token: str
    username: str
    expires_in: int
    policy: PasswordPolicy

    @property
    def error(self) -> str:
        return KINDS[self.kind].error

    @property
    def description(self) -> str:
        return KINDS[self.kind].description

    def details(self) -> dict[str, Any]:
        """The answer's fields besides error and error_description."""
        details: dict[str, Any] = {KINDS[self.kind].token_field: self.token}
        if self.kind == "mfa":
            details["factors"] = ["totp"]  # the shape Auth0 answers with
        else:
            details["password_policy"] = self.policy.as_dict()
        return details


class Challenges:
    """The challenges of logins in progress (see the module docstring)."""

    def __init__(self, settings: Settings, clock: Clock, users: Users, store: ChallengeStore) -> None:
        self._settings = settings
        self._clock = clock
        self._users = users
        self._store = store

    def start(self, user: User, mode: str | None = None) -> Challenge | User:
        """After a correct password: the user's first challenge, or the user when there is
        none. `mode` is the challenge mode applied to this login (``mfa_required`` or
        ``password_expired``), which sends any user through that challenge."""
        own = {"password": user.password_expired, "mfa": bool(user.mfa)}  # the fixture entry's
        steps = tuple(kind for kind, about in KINDS.items() if own[kind] or about.error == mode)
        if not steps:
            return user
        return self._put(user.username, steps, development_code=mode == KINDS["mfa"].error)

    def verify_code(self, mfa_token: str, code: str) -> Challenge | User:
        """The code of an mfa step: its next step, or the user signed in. A wrong code
        counts toward the lockout (``mfa_max_attempts`` in a row locks the account)."""
        record, user = self._open(mfa_token, "mfa")
        wrong = self._check_code(user, record, code)
        if wrong is not None:
            raise self._wrong_code(user, mfa_token, wrong)
        self._use(mfa_token)
        self._store.clear_failures(user.username)
        return self._next(record, user)

    def change_password(self, change_token: str, new_password: str) -> Challenge | User:
        """The new password of a password step: it replaces the old one at once (until the
        mock is reset), and the login goes on to its next step or is signed in."""
        record, user = self._open(change_token, "password")
        if not _is_text(new_password):
            raise ChallengeError("invalid_request", "The new password is not valid Unicode text.")
        broken = self._settings.password_policy.broken_rule(new_password)
        if broken is not None:
            rule, needs = broken
            raise ChallengeError(
                "weak_password", f"The new password needs {needs} (password_policy: {rule}).", rule=rule
            )
        if hmac.compare_digest(new_password.encode(), user.password.encode()):
            raise ChallengeError(
                "weak_password", "The new password must differ from the expired one.", rule="different"
            )
        self._use(change_token)
        user = self._users.update(user.username, password=new_password, password_expired=False)
        return self._next(record, user)

    def current_code(self, user: User, at: float | None = None) -> tuple[str, float | None]:
        """The code that passes `user`'s mfa step at `at` (default: now on the mock clock)
        and when it stops being the current one: its TOTP code; else its fixed code, or
        the development code that challenges of the mfa_required mode take (no end)."""
        mfa = user.mfa or {}
        secret = mfa.get("totp_secret")
        if secret is None:
            return mfa.get("code", DEVELOPMENT_CODE), None
        step = max(int((self._clock.now() if at is None else at) // TOTP_STEP), 0)
        return _totp(secret).generate_otp(step), float((step + 1) * TOTP_STEP)

    def owner(self, token: str) -> str | None:
        """Whose login a challenge token carries (for per-user modes)."""
        record = self._store.get(token) if token.isascii() else None
        return record.username if record else None

    def reset(self) -> None:
        self._store.clear()

    # -- the steps ---------------------------------------------------------------------

    def _put(self, username: str, steps: tuple[str, ...], *, development_code: bool) -> Challenge:
        token = token_urlsafe(32)
        lifetime = self._settings.challenge_lifetime
        now = self._clock.now()
        record = ChallengeRecord(steps[0], username, now + lifetime, steps[1:], development_code)
        self._store.add(token, record, now=now)
        return Challenge(steps[0], token, username, lifetime, self._settings.password_policy)

    def _open(self, token: str, kind: str) -> tuple[ChallengeRecord, User]:
        """The record of a live challenge token of this kind, and its user; or invalid_token."""
        name = KINDS[kind].token_field
        record = self._store.get(token) if token.isascii() else None  # tokens are base64url
        if record is None or record.kind != kind:
            raise ChallengeError("invalid_token", f"The {name} is unknown.")
        if record.used:
            raise ChallengeError("invalid_token", f"The {name} was already used; sign in again.")
        if record.expires_at <= self._clock.now():
            raise ChallengeError("invalid_token", f"The {name} has expired; sign in again.")
        user = self._users.all().get(record.username)
        if user is None:
            raise ChallengeError("invalid_token", f"The user of this {name} no longer exists.")
        return record, user

    def _use(self, token: str) -> None:
        # Exactly one of two requests racing with the same token gets past this.
        if not self._store.use(token):
            raise ChallengeError("invalid_token", "The token was already used; sign in again.")

    def _next(self, record: ChallengeRecord, user: User) -> Challenge | User:
        if not record.then:
            return user
        return self._put(user.username, record.then, development_code=record.development_code)

    def _check_code(self, user: User, record: ChallengeRecord, code: str) -> str | None:
        """None when `code` passes the step, else why it does not (a wrong code)."""
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            return "The code must be 6 digits."
        mfa = user.mfa or {}
        fixed = [DEVELOPMENT_CODE] if record.development_code else []
        if "code" in mfa:
            fixed.append(mfa["code"])
        if any(hmac.compare_digest(code.encode(), known.encode()) for known in fixed):
            return None
        secret = mfa.get("totp_secret")
        if secret is None:
            return "The code is incorrect."
        # The current step's code, or the one before: a code typed as its step ended.
        step = int(self._clock.now() // TOTP_STEP)
        totp = _totp(secret)
        for candidate in (candidate for candidate in (step, step - 1) if candidate >= 0):
            if hmac.compare_digest(code.encode(), totp.generate_otp(candidate).encode()):
                if self._store.spend_step(user.username, candidate):
                    return None
                # Not a guess (whoever sent it knew the code), so not counted toward the
                # lockout: a form submitted twice must not lock anyone out.
                raise ChallengeError(
                    "invalid_mfa_code",
                    "This code was already used (RFC 6238 takes each code once); wait for the next one.",
                )
        return "The code is incorrect."

    def _wrong_code(self, user: User, token: str, why: str) -> ChallengeError:
        limit = self._settings.mfa_max_attempts
        left = limit - self._store.add_failure(user.username)
        if left > 0:
            return ChallengeError(
                "invalid_mfa_code", f"{why} {left} attempt{'s' if left > 1 else ''} left.", attempts_left=left
            )
        self._store.use(token)
        self._store.clear_failures(user.username)
        self._users.update(user.username, locked=True)
        return ChallengeError(
            "account_locked",
            f"{limit} wrong codes in a row: the account is now locked (unlock it with PATCH "
            f'/_mockauth/users/{user.username} {{"locked": false}}, or reset the mock).',
        )


def _is_text(value: str) -> bool:
    """Whether `value` is Unicode text (JSON can carry lone surrogates, which are not)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


@functools.cache
def _totp_class() -> type[pyotp.TOTP]:
    # Imported with the first one-time code rather than at start: pyotp (and the
    # calendar module it pulls in) is a few milliseconds of every `mockauth serve`.
    import pyotp

    class TOTP(pyotp.TOTP):
        # pyotp refuses secrets under 112 bits (NIST SP 800-63B-4); authenticator apps
        # still hand out 80-bit ones (JBSWY3DPEHPK3PXP is one), and a mock must take them.
        min_secret_length_bits = MIN_SECRET_BITS

    return TOTP


def _totp(secret: str) -> pyotp.TOTP:
    return _totp_class()(secret.rstrip("=").upper(), digits=6, interval=TOTP_STEP)
