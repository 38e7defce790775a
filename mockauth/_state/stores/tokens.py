"""Where token state lives: refresh tokens (single use, by family), revocations, and a
signing key generated at start (so every process sharing the store signs with it)."""

from __future__ import annotations

import abc
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .redis import STATE_TTL, TOKEN_TTL_MARGIN, RedisConnection, guarded

# The in-memory store forgets what has expired every PRUNE_EVERY logins, and keeps at
# most MAX_REFRESH_TOKENS live refresh tokens (Redis forgets by TTL instead).
PRUNE_EVERY = 10_000
MAX_REFRESH_TOKENS = 100_000


@dataclass
class RefreshRecord:
    username: str
    family: str
    expires_at: float
    used: bool = False


class TokenStore(abc.ABC):
    @abc.abstractmethod
    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        """The PEM private key for `algorithm`: `generate()`'s in a store of its own,
        the first process's in a shared one, so tokens verify whichever process answers."""

    @abc.abstractmethod
    def add_refresh(self, token: str, record: RefreshRecord, *, now: float, lifetime: int) -> None:
        ...

    @abc.abstractmethod
    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        """Use a refresh token once: ("ok", record), ("unknown", None) for an unknown or
        revoked one, ("reused", record) when already used (its family is revoked then),
        or ("expired", record)."""

    @abc.abstractmethod
    def refresh_owner(self, token: str) -> str | None:
        ...

    @abc.abstractmethod
    def refresh_record(self, token: str) -> RefreshRecord | None:
        """The refresh token's record without using it; None when unknown or revoked."""

    @abc.abstractmethod
    def revoke_family(self, family: str, *, now: float, family_lifetime: int) -> None:
        """Revoke every token of a family (RFC 7009 revocation of a refresh token)."""

    @abc.abstractmethod
    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        """Revoke an access token until it expires, and its family for `family_lifetime` seconds."""

    @abc.abstractmethod
    def is_revoked(self, jti: str, family: str | None) -> bool:
        ...

    @abc.abstractmethod
    def clear(self) -> None:
        ...


class MemoryTokenStore(TokenStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh: dict[str, RefreshRecord] = {}
        self._revoked_jtis: dict[str, float] = {}  # jti -> exp, forgotten once expired
        self._revoked_families: dict[str, float] = {}  # family -> when it may be forgotten
        self._issued = 0

    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        return generate()

    def add_refresh(self, token: str, record: RefreshRecord, *, now: float, lifetime: int) -> None:
        with self._lock:
            self._prune(now)
            self._refresh[token] = record

    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        with self._lock:
            record = self._refresh.get(token)
            if record is None or record.family in self._revoked_families:
                return "unknown", None
            if record.used:
                self._revoked_families[record.family] = now + family_lifetime
                return "reused", record
            if record.expires_at <= now:
                return "expired", record
            record.used = True
            return "ok", record

    def refresh_owner(self, token: str) -> str | None:
        record = self._refresh.get(token)
        return record.username if record else None

    def refresh_record(self, token: str) -> RefreshRecord | None:
        record = self._refresh.get(token)
        return None if record is None or record.family in self._revoked_families else record

    def revoke_family(self, family: str, *, now: float, family_lifetime: int) -> None:
        with self._lock:
            self._revoked_families[family] = now + family_lifetime

    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        with self._lock:
            self._revoked_jtis[jti] = expires_at
            if family is not None:
                self._revoked_families[family] = now + family_lifetime

    def is_revoked(self, jti: str, family: str | None) -> bool:
        return jti in self._revoked_jtis or (family is not None and family in self._revoked_families)

    def clear(self) -> None:
        with self._lock:
            self._refresh.clear()
            self._revoked_jtis.clear()
            self._revoked_families.clear()

    def _prune(self, now: float) -> None:
        """Keep memory bounded under load (lock held): every PRUNE_EVERY logins, forget
        what has expired; past MAX_REFRESH_TOKENS live refresh tokens, drop the oldest."""
        self._issued += 1
        if self._issued % PRUNE_EVERY:
            return
        self._refresh = {t: r for t, r in self._refresh.items() if r.expires_at > now}
        excess = len(self._refresh) - MAX_REFRESH_TOKENS
        if excess > 0:
            for token in list(itertools.islice(self._refresh, excess)):
                del self._refresh[token]
        self._revoked_jtis = {j: exp for j, exp in self._revoked_jtis.items() if exp > now}
        self._revoked_families = {f: until for f, until in self._revoked_families.items() if until > now}


# Use a refresh token once (KEYS: its record; ARGV: revoked-family key prefix, now,
# family TTL). Reuse revokes the family, as OAuth 2.0 Security BCP 4.14 advises.
_ROTATE = """
local rec = redis.call('HMGET', KEYS[1], 'user', 'family', 'exp', 'used')
if not rec[1] then return {'unknown'} end
local family_key = ARGV[1] .. rec[2]
if redis.call('EXISTS', family_key) == 1 then return {'unknown'} end
if rec[4] == '1' then
  redis.call('SET', family_key, '1', 'EX', ARGV[3])
  return {'reused', rec[1], rec[2], rec[3]}
end
if tonumber(rec[3]) <= tonumber(ARGV[2]) then return {'expired', rec[1], rec[2], rec[3]} end
redis.call('HSET', KEYS[1], 'used', '1')
return {'ok', rec[1], rec[2], rec[3]}
"""


class RedisTokenStore(TokenStore):
    """``refresh:<token>`` hashes and ``revoked:jti:<jti>`` / ``revoked:family:<id>``
    keys, each expiring with what it records; ``key:<alg>`` for a generated key."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._signing_pem: tuple[str, bytes] | None = None
        self._rotate = connection.redis.register_script(_ROTATE)
        # Redis lost the namespace: put the key back before anything is signed again.
        connection.on_seed.append(self._restore_key)

    def _key(self, name: str) -> str:
        return self.connection.key(name)

    def _restore_key(self) -> None:
        if self._signing_pem is not None:
            algorithm, pem = self._signing_pem
            self.connection.redis.set(self._key(f"key:{algorithm}"), pem, nx=True, ex=STATE_TTL)

    @guarded
    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        redis, key = self.connection.redis, self._key(f"key:{algorithm}")
        stored = redis.get(key)
        if stored is None:
            redis.set(key, generate().decode(), nx=True, ex=STATE_TTL)
            stored = redis.get(key)
        pem = str(stored).encode()
        self._signing_pem = (algorithm, pem)
        if key not in self.connection.state_keys:
            self.connection.state_keys.append(key)
        return pem

    @guarded
    def add_refresh(self, token: str, record: RefreshRecord, *, now: float, lifetime: int) -> None:
        key = self._key("refresh:" + token)
        with self.connection.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={
                "user": record.username, "family": record.family, "exp": repr(record.expires_at), "used": "0",
            })
            pipe.expire(key, lifetime + TOKEN_TTL_MARGIN)
            pipe.execute()

    @guarded
    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        answer = self._rotate(
            keys=[self._key("refresh:" + token)],
            args=[self._key("revoked:family:"), repr(now), family_lifetime + TOKEN_TTL_MARGIN],
        )
        if answer[0] == "unknown":
            return "unknown", None
        return str(answer[0]), RefreshRecord(answer[1], answer[2], float(answer[3]), answer[0] != "expired")

    @guarded
    def refresh_owner(self, token: str) -> str | None:
        owner = self.connection.redis.hget(self._key("refresh:" + token), "user")
        return None if owner is None else str(owner)

    @guarded
    def refresh_record(self, token: str) -> RefreshRecord | None:
        redis = self.connection.redis
        fields: list[Any] = redis.hmget(self._key("refresh:" + token), ["user", "family", "exp", "used"])
        user, family, expires_at, used = fields
        if user is None or redis.exists(self._key("revoked:family:" + family)):
            return None
        return RefreshRecord(str(user), str(family), float(expires_at), used == "1")

    @guarded
    def revoke_family(self, family: str, *, now: float, family_lifetime: int) -> None:
        self.connection.redis.set(self._key("revoked:family:" + family), "1", ex=family_lifetime + TOKEN_TTL_MARGIN)

    @guarded
    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        with self.connection.redis.pipeline() as pipe:
            pipe.set(self._key("revoked:jti:" + jti), "1", ex=int(max(expires_at - now, 0)) + TOKEN_TTL_MARGIN)
            if family is not None:
                pipe.set(self._key("revoked:family:" + family), "1", ex=family_lifetime + TOKEN_TTL_MARGIN)
            pipe.execute()

    @guarded
    def is_revoked(self, jti: str, family: str | None) -> bool:
        keys = [self._key("revoked:jti:" + jti)]
        if family is not None:
            keys.append(self._key("revoked:family:" + family))
        return bool(self.connection.redis.exists(*keys))

    @guarded
    def clear(self) -> None:
        self.connection.unlink_matching("refresh:*", "revoked:*")
