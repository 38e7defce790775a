"""Signing keys, JWT issue and verification, and the refresh-token and revocation state."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ._clock import Clock
from ._errors import ConfigError
from ._settings import Settings
from ._users import RESERVED_CLAIMS, User


class TokenError(Exception):
    """A token was refused; ``code`` is the error code the API answers with."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True)
class Keys:
    """The signing key and the verification key, loaded once (PyJWT re-parses PEM bytes
    on every call, which costs milliseconds)."""

    algorithm: str
    signing: Any
    verifying: Any
    kid: str
    public_jwk: Mapping[str, Any] | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Keys:
        algorithm = settings.algorithm
        if algorithm == "HS256":
            secret = settings.secret.encode()
            kid = hashlib.sha256(b"mockauth-kid" + secret).hexdigest()[:16]
            return cls(algorithm, secret, secret, kid, None)
        private_key = _load_private_key(settings.key_file, algorithm) if settings.key_file else (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if algorithm == "RS256"
            else ec.generate_private_key(ec.SECP256R1())
        )
        public_key = private_key.public_key()
        jwk: dict[str, Any] = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(public_key))
        kid = _thumbprint(jwk)
        jwk.update({"kid": kid, "use": "sig", "alg": algorithm})
        return cls(algorithm, private_key, public_key, kid, jwk)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.public_jwk)] if self.public_jwk else []}


def _load_private_key(path: str, algorithm: str) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"setting 'key_file': {path}: cannot read: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"setting 'key_file': {path}: not an unencrypted PEM private key ({error})") from None
    wanted = rsa.RSAPrivateKey if algorithm == "RS256" else ec.EllipticCurvePrivateKey
    if not isinstance(key, wanted):
        raise ConfigError(f"setting 'key_file': {path}: not a key for {algorithm}")
    if isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(f"setting 'key_file': {path}: ES256 needs a P-256 key")
    return key


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint, the usual choice of kid."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


PRUNE_EVERY = 10_000
MAX_REFRESH_TOKENS = 100_000


@dataclass
class RefreshRecord:
    username: str
    family: str
    expires_at: float
    used: bool = False


class Tokens:
    """Issues and checks access tokens; keeps refresh tokens and revocations.

    Refresh tokens are opaque and single-use. Using one rotates it; using a rotated one
    again is refused and revokes its whole family (the chain of tokens from one login),
    as OAuth 2.0 Security BCP 4.14 advises. Logout revokes the access token and its family.
    """

    def __init__(self, settings: Settings, clock: Clock, keys: Keys | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.keys = keys or Keys.from_settings(settings)
        self._lock = threading.Lock()
        self._refresh: dict[str, RefreshRecord] = {}
        self._revoked_jtis: dict[str, float] = {}  # jti -> exp, forgotten once expired
        self._revoked_families: set[str] = set()
        self._family_of_jti: dict[str, tuple[str, float]] = {}  # jti -> (family, exp)
        self._issued = 0

    def reset(self) -> None:
        with self._lock:
            self._refresh.clear()
            self._revoked_jtis.clear()
            self._revoked_families.clear()
            self._family_of_jti.clear()

    # -- issuing ---------------------------------------------------------------------

    def access_token(
        self,
        user: User,
        *,
        expires_in: int | None = None,
        claims: Mapping[str, Any] | None = None,
        family: str | None = None,
    ) -> tuple[str, int]:
        """A signed JWT for `user` and its lifetime in seconds (negative: already expired)."""
        now = int(self.clock.now())
        lifetime = self.settings.access_token_lifetime if expires_in is None else int(expires_in)
        payload: dict[str, Any] = {
            **user.claims,
            "sub": user.username,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "jti": secrets.token_urlsafe(16),
        }
        if user.email and "email" not in payload:
            payload["email"] = user.email
        if lifetime <= 0:  # an expired token was issued in the past, not in the future
            payload["iat"] = payload["nbf"] = now + lifetime - self.settings.access_token_lifetime
        if claims:
            payload.update(claims)
        if family is not None:
            with self._lock:
                self._family_of_jti[payload["jti"]] = (family, payload["exp"])
        token = jwt.encode(
            payload, self.keys.signing, algorithm=self.keys.algorithm, headers={"kid": self.keys.kid}
        )
        return token, lifetime

    def token_response(self, user: User, *, expired: bool = False, family: str | None = None) -> dict[str, Any]:
        """The body of a successful login or refresh."""
        family = family or secrets.token_urlsafe(12)
        access, lifetime = self.access_token(
            user, expires_in=-1 if expired else None, family=family
        )
        refresh = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            self._refresh[refresh] = RefreshRecord(
                user.username, family, self.clock.now() + self.settings.refresh_token_lifetime
            )
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
        }

    # -- checking --------------------------------------------------------------------

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token, or TokenError(code, description)."""
        if not _canonical(token):
            raise TokenError("invalid_token", "The access token is malformed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("invalid_token", "The access token is malformed.") from None
        if header.get("alg") != self.keys.algorithm:
            raise TokenError("invalid_token", "The access token is not signed with the expected algorithm.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.keys.verifying,
                algorithms=[self.keys.algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                # Time is checked below against the mock's own clock.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["sub", "iat", "exp", "jti", "iss", "aud"],
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenError("invalid_token", "The access token signature is invalid.") from None
        except jwt.InvalidAudienceError:
            raise TokenError("invalid_token", "The access token is for another audience.") from None
        except jwt.InvalidIssuerError:
            raise TokenError("invalid_token", "The access token is from another issuer.") from None
        except jwt.PyJWTError:
            raise TokenError("invalid_token", "The access token is malformed.") from None
        now = self.clock.now()
        for name in ("exp", "iat", "nbf"):
            if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
                raise TokenError("invalid_token", f"The access token's {name} claim is not a number.")
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise TokenError("invalid_token", "The access token is malformed.")
        if claims.get("nbf", claims["iat"]) > now:
            raise TokenError("invalid_token", "The access token is not valid yet.")
        if claims["exp"] <= now:
            raise TokenError("token_expired", "The access token has expired.")
        with self._lock:
            family = self._family_of_jti.get(claims["jti"], ("", 0.0))[0]
            if claims["jti"] in self._revoked_jtis or family in self._revoked_families:
                raise TokenError("invalid_token", "The access token has been revoked.")
        return claims

    def rotate(self, refresh_token: str) -> tuple[str, str]:
        """Use a refresh token once: returns (username, family) or TokenError."""
        with self._lock:
            record = self._refresh.get(refresh_token)
            if record is None or record.family in self._revoked_families:
                raise TokenError("invalid_token", "The refresh token is invalid or has been revoked.")
            if record.used:
                self._revoked_families.add(record.family)
                raise TokenError(
                    "invalid_token",
                    "The refresh token was already used; its token family is now revoked.",
                )
            if record.expires_at <= self.clock.now():
                raise TokenError("token_expired", "The refresh token has expired.")
            record.used = True
            return record.username, record.family

    def refresh_owner(self, refresh_token: str) -> str | None:
        with self._lock:
            record = self._refresh.get(refresh_token)
            return record.username if record else None

    def revoke(self, claims: Mapping[str, Any]) -> None:
        """Logout: the access token and every refresh token of its family."""
        with self._lock:
            self._revoked_jtis[claims["jti"]] = float(claims["exp"])
            entry = self._family_of_jti.get(claims["jti"])
            if entry is not None:
                self._revoked_families.add(entry[0])

    def _prune(self) -> None:
        """Keep memory bounded under load (lock held): every PRUNE_EVERY logins, forget
        what has expired; past MAX_REFRESH_TOKENS live refresh tokens, drop the oldest."""
        self._issued += 1
        if self._issued % PRUNE_EVERY:
            return
        now = self.clock.now()
        self._refresh = {t: r for t, r in self._refresh.items() if r.expires_at > now}
        excess = len(self._refresh) - MAX_REFRESH_TOKENS
        if excess > 0:
            for token in list(itertools.islice(self._refresh, excess)):
                del self._refresh[token]
        self._revoked_jtis = {j: exp for j, exp in self._revoked_jtis.items() if exp > now}
        self._family_of_jti = {j: e for j, e in self._family_of_jti.items() if e[1] > now}
        # Access tokens live 15 minutes by default, so this map is bounded by time, but a
        # long lifetime under heavy load could still grow it: drop the oldest past the cap.
        excess = len(self._family_of_jti) - MAX_REFRESH_TOKENS
        if excess > 0:
            for jti in list(itertools.islice(self._family_of_jti, excess)):
                del self._family_of_jti[jti]
        live = {record.family for record in self._refresh.values()}
        live.update(family for family, _ in self._family_of_jti.values())
        self._revoked_families &= live


_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _canonical(token: str) -> bool:
    """Three base64url segments, each in its one canonical spelling.

    Base64 decoders skip characters outside the alphabet and ignore the unused low bits
    of the last character, so without this check several spellings of one signed token
    would verify: a token whose bytes were changed must be refused, every time.
    """
    if not _COMPACT_JWS.fullmatch(token):
        return False
    for segment in token.split("."):
        try:
            decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except ValueError:  # a length no base64 text can have
            return False
        if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != segment:
            return False
    return True


def decode_unverified(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A JWT's header and claims without checking anything (for the token decoder)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None, None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return header, None
    return header, claims


def unverified_subject(token: str) -> str | None:
    """Whose token this claims to be, for per-user modes; None if unreadable."""
    _, claims = decode_unverified(token)
    sub = claims.get("sub") if claims else None
    return sub if isinstance(sub, str) else None


__all__ = ["RESERVED_CLAIMS", "Keys", "TokenError", "Tokens", "decode_unverified"]
