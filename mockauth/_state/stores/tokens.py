"""Where token state lives: refresh tokens (single use, by family), revocations, and a
signing key generated at start (so every process sharing the store signs with it)."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import NamedTuple

from .expiring import FORGET_AFTER, Ending, StoreFull
from .redis import STATE_TTL, RedisConnection, guarded

# Expiry follows the mock's clock on every store: a refresh token, a revoked access
# token or a revoked family is forgotten once the mock's time (never the wall clock,
# which runs on while the mock's is frozen) is FORGET_AFTER seconds past its end, so a
# clock moved back by less than that still finds every revocation in place. The memory
# store forgets at each addition what has ended (``Ending``: it costs what it removes);
# the Redis store looks every PRUNE_EVERY additions.
PRUNE_EVERY = 1000
# Bounds whatever the clock does (a frozen clock forgets nothing). Past
# MAX_REFRESH_TOKENS the earliest-expiring refresh token is dropped for each one added:
# a dropped one is refused as unknown, never let in. A revocation is never dropped
# while its token may live (that would let it in again): past MAX_REVOCATIONS, a logout
# is refused instead (RevocationsFull, answered 503) until some expire.
MAX_REFRESH_TOKENS = 100_000
MAX_REVOCATIONS = 100_000


class RevocationsFull(StoreFull):
    """MAX_REVOCATIONS revocations are live: nothing more can be revoked until some expire."""

    def __init__(self) -> None:
        super().__init__("revoked tokens", MAX_REVOCATIONS, 60)


class RefreshRecord(NamedTuple):
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
    def add_refresh(self, token: str, record: RefreshRecord, *, now: float) -> None:
        """Keep a refresh token until the mock's time is past its ``expires_at``."""

    @abc.abstractmethod
    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        """Use a refresh token once: ("ok", record), ("unknown", None) for an unknown or
        revoked one, ("reused", record) when already used (its family is revoked then,
        for `family_lifetime` seconds), or ("expired", record)."""

    @abc.abstractmethod
    def refresh_owner(self, token: str) -> str | None:
        ...

    @abc.abstractmethod
    def refresh_record(self, token: str) -> RefreshRecord | None:
        """The refresh token's record without using it; None when unknown or revoked."""

    def revoke_family(self, family: str, *, now: float, family_lifetime: int) -> None:
        """Revoke every token of a family (a code used twice, a revoked refresh token)."""
        self.revoke("", now, family, now=now, family_lifetime=family_lifetime)

    @abc.abstractmethod
    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        """Revoke an access token until it expires (its family, when it has one, for
        `family_lifetime` seconds: that refuses the token and its refresh tokens);
        RevocationsFull past MAX_REVOCATIONS live revocations."""

    @abc.abstractmethod
    def is_revoked(self, jti: str, family: str | None) -> bool:
        ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """How many refresh tokens and revocations the store holds now."""

    @abc.abstractmethod
    def clear(self) -> None:
        ...


# A refresh record as the memory store keeps it: a plain tuple of strings, a float and
# a bool, which the garbage collector stops tracking (it never does for a NamedTuple),
# so that its passes do not walk 100,000 of them.
_Kept = tuple[str, str, float, bool]


def _refresh_end(kept: _Kept) -> float:
    return kept[2]


def _revocation_end(until: float) -> float:
    return until


class MemoryTokenStore(TokenStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh: Ending[_Kept] = Ending(_refresh_end)
        # jti or family -> the mock time after which it may be forgotten
        self._revoked_jtis: Ending[float] = Ending(_revocation_end)
        self._revoked_families: Ending[float] = Ending(_revocation_end)

    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        return generate()

    def add_refresh(self, token: str, record: RefreshRecord, *, now: float) -> None:
        with self._lock:
            self._forget_ended(now)
            self._refresh.drop_down_to(MAX_REFRESH_TOKENS - 1)
            self._refresh.set(token, tuple.__new__(tuple, record))

    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        with self._lock:
            kept = self._refresh.held.get(token)
            if kept is None or kept[1] in self._revoked_families.held:
                return "unknown", None
            record = RefreshRecord._make(kept)
            if record.used:
                self._revoked_families.set(record.family, now + family_lifetime + FORGET_AFTER)
                return "reused", record
            if record.expires_at <= now:
                return "expired", record
            self._refresh.held[token] = (*kept[:3], True)  # the same end: its place in the heap stands
            return "ok", record._replace(used=True)

    def refresh_owner(self, token: str) -> str | None:
        kept = self._refresh.held.get(token)
        return kept[0] if kept else None

    def refresh_record(self, token: str) -> RefreshRecord | None:
        kept = self._refresh.held.get(token)
        return None if kept is None or kept[1] in self._revoked_families.held else RefreshRecord._make(kept)

    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        with self._lock:
            self._forget_ended(now)
            if len(self._revoked_jtis) + len(self._revoked_families) >= MAX_REVOCATIONS:
                raise RevocationsFull
            if family is not None:  # the family refuses the token too (its sid)
                until = max(now + family_lifetime, expires_at) + FORGET_AFTER
                self._revoked_families.set(family, max(until, self._revoked_families.held.get(family, until)))
            else:
                self._revoked_jtis.set(jti, max(expires_at + FORGET_AFTER, self._revoked_jtis.held.get(jti, 0.0)))

    def is_revoked(self, jti: str, family: str | None) -> bool:
        return jti in self._revoked_jtis.held or (family is not None and family in self._revoked_families.held)

    def counts(self) -> dict[str, int]:
        return {
            "refresh_tokens": len(self._refresh),
            "revocations": len(self._revoked_jtis) + len(self._revoked_families),
        }

    def clear(self) -> None:
        with self._lock:
            self._refresh.clear()
            self._revoked_jtis.clear()
            self._revoked_families.clear()

    def _forget_ended(self, now: float) -> None:
        """Forget refresh tokens that ended FORGET_AFTER ago by the mock's clock, and
        revocations whose time is up (lock held)."""
        self._refresh.forget_ended(now - FORGET_AFTER)
        self._revoked_jtis.forget_ended(now)
        self._revoked_families.forget_ended(now)


# A refresh record is one hash field, "used<TAB>expires_at<TAB>family<TAB>username"
# (the username last: it may hold a tab; repr() of a float keeps every digit).

# Use a refresh token once (KEYS: refresh hash, revoked set; ARGV: token, now, when
# the family may be forgotten, TTL). Reuse revokes the family, as OAuth 2.0 Security BCP
# 4.14 advises.
_ROTATE = """
local text = redis.call('HGET', KEYS[1], ARGV[1])
if not text then return {'unknown'} end
local t1 = string.find(text, '\t', 1, true)
local t2 = string.find(text, '\t', t1 + 1, true)
local t3 = string.find(text, '\t', t2 + 1, true)
local family = 'f:' .. string.sub(text, t2 + 1, t3 - 1)
if redis.call('ZSCORE', KEYS[2], family) then return {'unknown'} end
if string.sub(text, 1, t1 - 1) == '1' then
  redis.call('ZADD', KEYS[2], 'GT', ARGV[3], family)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return {'reused', text}
end
if tonumber(string.sub(text, t1 + 1, t2 - 1)) <= tonumber(ARGV[2]) then return {'expired', text} end
redis.call('HSET', KEYS[1], ARGV[1], '1' .. string.sub(text, t1))
return {'ok', text}
"""

# Revoke (KEYS: revoked set; ARGV: member, when it may be forgotten, now, the cap, TTL):
# 0 when the cap is reached by revocations the mock's clock has not left behind.
_REVOKE = """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# Forget what the mock's clock has left behind (KEYS: refresh hash, its expiry set,
# revoked set; ARGV: refresh horizon, now, the refresh cap, most to forget at once).
_PRUNE = """
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[2], math.min(excess, tonumber(ARGV[4])))
  for i = 1, #dropped, 2 do redis.call('HDEL', KEYS[1], dropped[i]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
return #old
"""
# Lua's unpack() takes a few thousand values at most.
_PRUNE_BATCH = 5000


def _record(text: str) -> RefreshRecord:
    used, expires_at, family, username = text.split("\t", 3)
    return RefreshRecord(username, family, float(expires_at), used == "1")


class RedisTokenStore(TokenStore):
    """A hash ``refresh`` (token -> record) with the sorted set ``refresh:expiry`` (token
    -> expiry), and the sorted set ``revoked`` (``j:<jti>`` / ``f:<family>`` -> when it
    may be forgotten), all in the mock's time; ``key:<alg>`` for a generated key.

    No key expires with a token: Redis TTLs run on the wall clock, which goes on while
    the mock's clock is frozen, so they could forget a revocation the mock still needs.
    These keys carry only the namespace's own TTL (a day after the last process touched
    it, renewed while any runs); what expires is found by the mock's clock and removed
    every PRUNE_EVERY additions."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._signing_pem: tuple[str, bytes] | None = None
        self._refresh = connection.key("refresh")
        self._expiry = connection.key("refresh:expiry")
        self._revoked = connection.key("revoked")
        connection.state_keys += [self._refresh, self._expiry, self._revoked]
        self._rotate = connection.redis.register_script(_ROTATE)
        self._revoke = connection.redis.register_script(_REVOKE)
        self._prune = connection.redis.register_script(_PRUNE)
        self._added = 0
        self._lock = threading.Lock()
        # Redis lost the namespace: put the key back before anything is signed again.
        connection.on_seed.append(self._restore_key)

    def _key(self, name: str) -> str:
        return self.connection.key(name)

    def _restore_key(self) -> None:
        if self._signing_pem is not None:
            algorithm, pem = self._signing_pem
            self.connection.redis.set(self._key(f"key:{algorithm}"), pem, nx=True, ex=STATE_TTL)

    def _tick(self, now: float) -> None:
        with self._lock:
            self._added += 1
            due = self._added % PRUNE_EVERY == 0
        if due:
            self._prune(
                keys=[self._refresh, self._expiry, self._revoked],
                args=[repr(now - FORGET_AFTER), repr(now), MAX_REFRESH_TOKENS, _PRUNE_BATCH],
            )

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
    def add_refresh(self, token: str, record: RefreshRecord, *, now: float) -> None:
        self._tick(now)
        text = f"{int(record.used)}\t{record.expires_at!r}\t{record.family}\t{record.username}"
        with self.connection.redis.pipeline() as pipe:
            pipe.hset(self._refresh, token, text)
            pipe.zadd(self._expiry, {token: record.expires_at})
            pipe.expire(self._refresh, STATE_TTL)
            pipe.expire(self._expiry, STATE_TTL)
            pipe.execute()

    @guarded
    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        answer = self._rotate(
            keys=[self._refresh, self._revoked],
            args=[token, repr(now), repr(now + family_lifetime + FORGET_AFTER), STATE_TTL],
        )
        if answer[0] == "unknown":
            return "unknown", None
        return str(answer[0]), _record(answer[1])._replace(used=answer[0] != "expired")

    @guarded
    def refresh_owner(self, token: str) -> str | None:
        text = self.connection.redis.hget(self._refresh, token)
        return None if text is None else _record(str(text)).username

    @guarded
    def refresh_record(self, token: str) -> RefreshRecord | None:
        redis = self.connection.redis
        text = redis.hget(self._refresh, token)
        if text is None:
            return None
        record = _record(str(text))
        return None if redis.zscore(self._revoked, "f:" + record.family) is not None else record

    @guarded
    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        self._tick(now)
        if family is not None:  # the family refuses the token too (its sid)
            member, until = "f:" + family, max(now + family_lifetime, expires_at) + FORGET_AFTER
        else:
            member, until = "j:" + jti, expires_at + FORGET_AFTER
        done = self._revoke(keys=[self._revoked], args=[member, repr(until), repr(now), MAX_REVOCATIONS, STATE_TTL])
        if not done:
            raise RevocationsFull

    @guarded
    def is_revoked(self, jti: str, family: str | None) -> bool:
        members = ["j:" + jti] + ([] if family is None else ["f:" + family])
        return any(score is not None for score in self.connection.redis.zmscore(self._revoked, members))

    @guarded
    def counts(self) -> dict[str, int]:
        with self.connection.redis.pipeline(transaction=False) as pipe:
            pipe.hlen(self._refresh)
            pipe.zcard(self._revoked)
            refresh, revoked = pipe.execute()
        return {"refresh_tokens": int(refresh), "revocations": int(revoked)}

    @guarded
    def clear(self) -> None:
        self.connection.redis.delete(self._refresh, self._expiry, self._revoked)
