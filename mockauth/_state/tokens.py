"""Signing keys, JWT issue and verification, refresh-token rotation and revocation."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .._errors import ConfigError
from .._fixtures import User
from .._random import token_urlsafe
from .._settings import DEFAULT_ISSUER, Settings
from .._values import check_json, is_number, parse_json
from .clock import Clock
from .stores import TokenStore
from .stores.tokens import RefreshRecord


class TokenError(Exception):
    """A token was refused; ``code`` is the error code the API answers with."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class Keys:
    """The signing key and the verification key, loaded once (PyJWT re-parses PEM bytes
    on every call, which costs milliseconds)."""

    def __init__(
        self, algorithm: str, signing: Any, verifying: Any, kid: str, public_jwk: Mapping[str, Any] | None
    ) -> None:
        self.algorithm = algorithm
        self.signing = signing
        self.verifying = verifying
        self.kid = kid
        self.public_jwk = public_jwk
        # The header never changes and PyJWT prepares the key again on every encode
        # (for an HMAC secret that is a PEM check and a JSON parse, about a third of a
        # login), so both are done here once and sign() only serialises the claims.
        header = json.dumps({"alg": algorithm, "kid": kid, "typ": "JWT"}, separators=(",", ":"))
        self._header_segment = _b64(header.encode()) + b"."
        self._signer = jwt.algorithms.get_default_algorithms()[algorithm]
        self._prepared = self._signer.prepare_key(signing)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of `claims`, byte for byte what ``jwt.encode`` would give."""
        payload = json.dumps(claims, separators=(",", ":")).encode()
        signing_input = self._header_segment + _b64(payload)
        signature: bytes = self._signer.sign(signing_input, self._prepared)
        return (signing_input + b"." + _b64(signature)).decode()

    @classmethod
    def from_settings(cls, settings: Settings, store: TokenStore | None = None) -> Keys:
        """The configured keys; a key generated at start comes through `store`, so that
        processes sharing a store sign with the same one (without a store: a new key)."""
        algorithm = settings.algorithm
        if algorithm == "HS256":
            secret = settings.secret.encode()
            kid = hashlib.sha256(b"mockauth-kid" + secret).hexdigest()[:16]
            return cls(algorithm, secret, secret, kid, None)
        if settings.key_file:
            return cls.of_private_key(algorithm, _load_private_key(settings.key_file, algorithm))
        return cls.generated(algorithm, store)

    @classmethod
    def generated(cls, algorithm: str, store: TokenStore | None = None) -> Keys:
        """A key made at start (RS256 or ES256), shared through `store` when there is one."""
        if store is None:
            return cls.of_private_key(algorithm, _generate_key(algorithm))
        pem = store.signing_key(algorithm, _generated_pem(algorithm))
        return cls.of_private_key(algorithm, serialization.load_pem_private_key(pem, password=None))

    @classmethod
    def of_private_key(cls, algorithm: str, private_key: Any) -> Keys:
        public_key = private_key.public_key()
        jwk: dict[str, Any] = json.loads(jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(public_key))
        kid = _thumbprint(jwk)
        jwk.update({"kid": kid, "use": "sig", "alg": algorithm})
        return cls(algorithm, private_key, public_key, kid, jwk)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.public_jwk)] if self.public_jwk else []}


def _generate_key(algorithm: str) -> Any:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _generated_pem(algorithm: str) -> Callable[[], bytes]:
    def generate() -> bytes:
        return bytes(_generate_key(algorithm).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ))

    return generate


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


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


class Tokens:
    """Issues and checks access tokens; keeps refresh tokens and revocations in the store.

    Refresh tokens are opaque and single-use. Using one rotates it; using a rotated one
    again is refused and revokes its whole family (the chain of tokens from one login),
    as OAuth 2.0 Security BCP 4.14 advises. Logout revokes the access token and its family.
    An access token names its family in the OIDC ``sid`` claim, so any process can
    revoke the family from the token alone.

    OpenID Connect ID tokens are signed with the configured key when it is RS256 or
    ES256; under HS256 (whose secret a client cannot verify with) with an RS256 key made
    on first use and published at the JWKS, as OpenID Connect Discovery requires RS256.
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        store: TokenStore,
        keys: Keys | None = None,
        issuers: Callable[[str], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.keys = keys or Keys.from_settings(settings, store)
        # A revoked family is remembered while any token of it may still be valid.
        self._family_lifetime = max(settings.access_token_lifetime, settings.refresh_token_lifetime)
        self._id_keys: Keys | None = self.keys if self.keys.public_jwk else None
        self._id_keys_lock = threading.Lock()
        # Tokens minted outside a request (issue_token, `mockauth token`) name this issuer.
        self.default_issuer = settings.issuer or settings.public_url or DEFAULT_ISSUER
        # Which iss values are this mock's when a check names none (State knows them all).
        self.issuers = issuers or (lambda issuer: issuer == self.default_issuer)

    @property
    def id_keys(self) -> Keys:
        """The keys of ID tokens (made on first use under HS256: an RSA key costs ~25 ms)."""
        if self._id_keys is None:
            with self._id_keys_lock:
                if self._id_keys is None:
                    self._id_keys = Keys.generated("RS256", self.store)
        return self._id_keys

    def jwks(self) -> dict[str, Any]:
        """Every public key a token of this mock may be verified with."""
        return self.id_keys.jwks()

    def reset(self) -> None:
        self.store.clear()

    # -- issuing ---------------------------------------------------------------------

    def access_token(
        self,
        user: User,
        *,
        expires_in: int | None = None,
        claims: Mapping[str, Any] | None = None,
        family: str | None = None,
        issuer: str | None = None,
    ) -> tuple[str, int]:
        """A signed JWT for `user` and its lifetime in seconds (negative: already expired)."""
        own = dict(user.claims)
        if user.email and "email" not in own:
            own["email"] = user.email
        return self._access(user.username, own, expires_in, claims, family, issuer)

    def client_token(
        self, client_id: str, *, scope: str, expires_in: int | None = None, issuer: str | None = None
    ) -> tuple[str, int]:
        """A client's own access token (client_credentials): ``sub`` is the client (RFC 9068)."""
        claims = {"client_id": client_id, "scope": scope} if scope else {"client_id": client_id}
        return self._access(client_id, {}, expires_in, claims, None, issuer)

    def _access(
        self,
        subject: str,
        own: Mapping[str, Any],
        expires_in: int | None,
        claims: Mapping[str, Any] | None,
        family: str | None,
        issuer: str | None,
    ) -> tuple[str, int]:
        now = int(self.clock.now())
        lifetime = self.settings.access_token_lifetime if expires_in is None else int(expires_in)
        payload: dict[str, Any] = {
            **own,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "iss": issuer or self.default_issuer,
            "aud": self.settings.audience,
            "jti": token_urlsafe(16),
        }
        if lifetime <= 0:  # an expired token was issued in the past, not in the future
            payload["iat"] = payload["nbf"] = now + lifetime - self.settings.access_token_lifetime
        if family is not None:
            payload["sid"] = family
        if claims:
            payload.update(claims)
        return self.keys.sign(payload), lifetime

    def token_response(
        self, user: User, *, expired: bool = False, family: str | None = None, issuer: str | None = None
    ) -> dict[str, Any]:
        """The body of a successful login or refresh."""
        family = family or new_family()
        access, lifetime = self.access_token(
            user, expires_in=-1 if expired else None, family=family, issuer=issuer
        )
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": lifetime,
            "refresh_token": self.issue_refresh(user.username, family),
        }

    def issue_refresh(self, username: str, family: str) -> str:
        """A new single-use refresh token of `family`."""
        refresh = token_urlsafe(32)
        now = self.clock.now()
        record = RefreshRecord(username, family, now + self.settings.refresh_token_lifetime)
        self.store.add_refresh(refresh, record, now=now)
        return refresh

    def id_token(self, claims: Mapping[str, Any]) -> str:
        return self.id_keys.sign(claims)

    # -- checking --------------------------------------------------------------------

    def verify(self, token: str, accept_issuer: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """The claims of a valid access token, or TokenError(code, description).

        `accept_issuer` says which ``iss`` values are this mock's for the request at
        hand (by default: every issuer it issued under)."""
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
                # Time is checked below against the mock's own clock, the issuer after.
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
        except jwt.PyJWTError:
            raise TokenError("invalid_token", "The access token is malformed.") from None
        issuer = claims["iss"]
        if not isinstance(issuer, str) or not (accept_issuer or self.issuers)(issuer):
            raise TokenError("invalid_token", "The access token is from another issuer.")
        now = self.clock.now()
        for name in ("exp", "iat", "nbf"):
            if name in claims and not is_number(claims[name]):
                raise TokenError("invalid_token", f"The access token's {name} claim is not a number.")
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
            raise TokenError("invalid_token", "The access token is malformed.")
        if claims.get("nbf", claims["iat"]) > now:
            raise TokenError("invalid_token", "The access token is not valid yet.")
        if claims["exp"] <= now:
            raise TokenError("token_expired", "The access token has expired.")
        sid = claims.get("sid")
        if self.store.is_revoked(claims["jti"], sid if isinstance(sid, str) else None):
            raise TokenError("invalid_token", "The access token has been revoked.")
        return claims

    def rotate(self, refresh_token: str) -> tuple[str, str]:
        """Use a refresh token once: returns (username, family) or TokenError."""
        outcome, record = self.store.rotate(
            refresh_token, now=self.clock.now(), family_lifetime=self._family_lifetime
        )
        if outcome == "ok" and record is not None:
            return record.username, record.family
        if outcome == "reused":
            raise TokenError(
                "invalid_token",
                "The refresh token was already used; its token family is now revoked.",
            )
        if outcome == "expired":
            raise TokenError("token_expired", "The refresh token has expired.")
        raise TokenError("invalid_token", "The refresh token is invalid or has been revoked.")

    def refresh_owner(self, refresh_token: str) -> str | None:
        return self.store.refresh_owner(refresh_token)

    def refresh_record(self, refresh_token: str) -> RefreshRecord | None:
        """A live refresh token's record (not used, not expired, not revoked), unchanged."""
        record = self.store.refresh_record(refresh_token)
        if record is None or record.used or record.expires_at <= self.clock.now():
            return None
        return record

    def revoke_family(self, family: str) -> None:
        self.store.revoke_family(family, now=self.clock.now(), family_lifetime=self._family_lifetime)

    def verify_id_token(self, token: str, accept_issuer: Callable[[str], bool]) -> dict[str, Any] | None:
        """An ID token this mock signed (expired ones too: a logout hint may be old), or None."""
        if not _canonical(token):
            return None
        keys = self.id_keys
        try:
            claims: dict[str, Any] = jwt.decode(
                token, keys.verifying, algorithms=[keys.algorithm],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return None
        issuer = claims.get("iss")
        return claims if isinstance(issuer, str) and accept_issuer(issuer) else None

    def revoke(self, claims: Mapping[str, Any]) -> None:
        """Logout: the access token and every refresh token of its family;
        RevocationsFull when the store holds as many live revocations as it may."""
        sid = claims.get("sid")
        # A minted token's exp may be any whole number: past 1e18 s it lives forever anyway.
        self.store.revoke(
            claims["jti"], float(min(claims["exp"], 10**18)), sid if isinstance(sid, str) else None,
            now=self.clock.now(), family_lifetime=self._family_lifetime,
        )


def new_family() -> str:
    """The id of a new token family (every token of one login, or one OAuth grant)."""
    return token_urlsafe(12)


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
    """A JWT's header and claims without checking anything (for the token decoder and
    per-user modes). Each is None unless it is a JSON object the mock can answer with:
    a forged token may carry NaN or a lone surrogate, which no JSON answer can hold."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    header, claims = (_segment_object(part) for part in parts[:2])
    return (header, claims) if header is not None else (None, None)


def _segment_object(segment: str) -> dict[str, Any] | None:
    try:
        value = parse_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        check_json(value, max_depth=None)
    except (ValueError, RecursionError):  # not base64url, UTF-8, JSON, or what an answer holds
        return None
    return value if isinstance(value, dict) else None


def unverified_subject(token: str) -> str | None:
    """Whose token this claims to be, for per-user modes; None if unreadable."""
    _, claims = decode_unverified(token)
    sub = claims.get("sub") if claims else None
    return sub if isinstance(sub, str) else None


