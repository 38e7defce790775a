"""Where login challenges live: the mfa_tokens and change_tokens handed out (each used
once, expiring on the mock clock), each user's count of wrong codes in a row, and the
last TOTP time step each user spent (so a code is accepted once)."""

from __future__ import annotations

import abc
import itertools
import threading
from dataclasses import dataclass, replace

from .redis import STATE_TTL, TOKEN_TTL_MARGIN, RedisConnection, guarded

# The in-memory store forgets expired challenges every PRUNE_EVERY new ones, and keeps at
# most MAX_CHALLENGES (Redis forgets by TTL instead).
PRUNE_EVERY = 1000
MAX_CHALLENGES = 10_000


@dataclass(frozen=True)
class ChallengeRecord:
    """One challenge handed out: what it asks for, whose login it is, until when (mock
    clock), the steps still to pass after it, and whether the development code passes
    its mfa step (when the mfa_required mode made the login ask for one)."""

    kind: str
    username: str
    expires_at: float
    then: tuple[str, ...] = ()
    development_code: bool = False
    used: bool = False


class ChallengeStore(abc.ABC):
    @abc.abstractmethod
    def add(self, token: str, record: ChallengeRecord, *, now: float, lifetime: int) -> None:
        ...

    @abc.abstractmethod
    def get(self, token: str) -> ChallengeRecord | None:
        """The record of a challenge token, used or not; None when unknown."""

    @abc.abstractmethod
    def use(self, token: str) -> bool:
        """Mark a challenge used; False when it was used already (or is unknown)."""

    @abc.abstractmethod
    def add_failure(self, username: str) -> int:
        """Count one more wrong code for the user; returns the count in a row."""

    @abc.abstractmethod
    def clear_failures(self, username: str) -> None:
        ...

    @abc.abstractmethod
    def spend_step(self, username: str, step: int) -> bool:
        """Record that the user's TOTP code of time step `step` was accepted; False (and
        nothing recorded) when a code of this step or a later one was accepted before."""

    @abc.abstractmethod
    def clear(self) -> None:
        ...


class MemoryChallengeStore(ChallengeStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._challenges: dict[str, ChallengeRecord] = {}
        self._failures: dict[str, int] = {}
        self._steps: dict[str, int] = {}
        self._added = 0

    def add(self, token: str, record: ChallengeRecord, *, now: float, lifetime: int) -> None:
        with self._lock:
            self._prune(now)
            self._challenges[token] = record

    def get(self, token: str) -> ChallengeRecord | None:
        return self._challenges.get(token)

    def use(self, token: str) -> bool:
        with self._lock:
            record = self._challenges.get(token)
            if record is None or record.used:
                return False
            self._challenges[token] = replace(record, used=True)
            return True

    def add_failure(self, username: str) -> int:
        with self._lock:
            count = self._failures[username] = self._failures.get(username, 0) + 1
            return count

    def clear_failures(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)

    def spend_step(self, username: str, step: int) -> bool:
        with self._lock:
            if step <= self._steps.get(username, -1):
                return False
            self._steps[username] = step
            return True

    def clear(self) -> None:
        with self._lock:
            self._challenges.clear()
            self._failures.clear()
            self._steps.clear()

    def _prune(self, now: float) -> None:
        """Keep memory bounded (lock held): every PRUNE_EVERY challenges, forget the
        expired ones; past MAX_CHALLENGES, drop the oldest."""
        self._added += 1
        if self._added % PRUNE_EVERY:
            return
        self._challenges = {t: r for t, r in self._challenges.items() if r.expires_at > now}
        excess = len(self._challenges) - MAX_CHALLENGES
        if excess > 0:
            for token in list(itertools.islice(self._challenges, excess)):
                del self._challenges[token]


# Use a challenge once (KEYS: its record).
_USE = """
if redis.call('HGET', KEYS[1], 'used') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], 'used', '1')
return 1
"""

# Accept a TOTP step once (KEYS: the user's last step; ARGV: the step, the key's TTL).
_SPEND_STEP = """
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class RedisChallengeStore(ChallengeStore):
    """``challenge:<token>`` hashes expiring with their challenge, and per user
    ``mfa:failures:<user>`` and ``mfa:step:<user>``."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._use = connection.redis.register_script(_USE)
        self._spend_step = connection.redis.register_script(_SPEND_STEP)

    def _key(self, name: str) -> str:
        return self.connection.key(name)

    @guarded
    def add(self, token: str, record: ChallengeRecord, *, now: float, lifetime: int) -> None:
        key = self._key("challenge:" + token)
        with self.connection.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={
                "kind": record.kind, "user": record.username, "exp": repr(record.expires_at),
                "then": ",".join(record.then), "dev": "1" if record.development_code else "0",
                "used": "1" if record.used else "0",
            })
            pipe.expire(key, lifetime + TOKEN_TTL_MARGIN)
            pipe.execute()

    @guarded
    def get(self, token: str) -> ChallengeRecord | None:
        raw = self.connection.redis.hgetall(self._key("challenge:" + token))
        if not raw:
            return None
        fields = {str(name): str(value) for name, value in raw.items()}  # str already (decode_responses)
        return ChallengeRecord(
            fields["kind"], fields["user"], float(fields["exp"]),
            tuple(step for step in fields["then"].split(",") if step),
            fields["dev"] == "1", fields["used"] == "1",
        )

    @guarded
    def use(self, token: str) -> bool:
        return bool(self._use(keys=[self._key("challenge:" + token)]))

    @guarded
    def add_failure(self, username: str) -> int:
        key = self._key("mfa:failures:" + username)
        with self.connection.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, STATE_TTL)
            count, _ = pipe.execute()
        return int(count)

    @guarded
    def clear_failures(self, username: str) -> None:
        self.connection.redis.delete(self._key("mfa:failures:" + username))

    @guarded
    def spend_step(self, username: str, step: int) -> bool:
        return bool(self._spend_step(keys=[self._key("mfa:step:" + username)], args=[step, STATE_TTL]))

    @guarded
    def clear(self) -> None:
        self.connection.unlink_matching("challenge:*", "mfa:*")
