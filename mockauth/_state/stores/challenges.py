"""Where login challenges live: the mfa_tokens and change_tokens handed out (each used
once, expiring on the mock clock), each user's count of wrong codes in a row, and the
last TOTP time step each user spent (so a code is accepted once)."""

from __future__ import annotations

import abc
import json
import threading
from typing import NamedTuple

from .expiring import Bound, MemoryRecords, RedisRecords
from .redis import STATE_TTL, RedisConnection, guarded

# Challenges expire on the mock's clock (challenge_lifetime, five minutes by default) and
# are bounded as stores/expiring.py says: past the cap, while every one held is alive, a
# login that would start one is refused (503) rather than one in progress forgotten.
CHALLENGES = Bound("login challenges (mfa_token, change_token)", 100_000)
# Users whose wrong codes in a row and last spent TOTP step are kept: far more than the
# users a mock holds at once (fixtures and 1,000 added), a bound for users added and
# removed without end; past it, the user recorded first is forgotten.
MAX_USERS_TRACKED = 10_000


class ChallengeRecord(NamedTuple):
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
    def add(self, token: str, record: ChallengeRecord, *, now: float) -> None:
        """Keep a challenge until the mock's time is past its ``expires_at``; StoreFull
        when the store holds as many live challenges as it may."""

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
    def counts(self) -> dict[str, int]:
        """How many challenges, and users with wrong codes or a spent step, the store holds."""

    @abc.abstractmethod
    def clear(self) -> None:
        ...


class MemoryChallengeStore(ChallengeStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._challenges: MemoryRecords[ChallengeRecord] = MemoryRecords(CHALLENGES)
        self._failures: dict[str, int] = {}
        self._steps: dict[str, int] = {}

    def add(self, token: str, record: ChallengeRecord, *, now: float) -> None:
        self._challenges.add(token, record, now)

    def get(self, token: str) -> ChallengeRecord | None:
        entry = self._challenges.get(token)
        return None if entry is None else entry[0]._replace(used=entry[1])

    def use(self, token: str) -> bool:
        return self._challenges.take(token)[0] == "ok"

    def add_failure(self, username: str) -> int:
        with self._lock:
            count = self._failures[username] = self._failures.get(username, 0) + 1
            _bound(self._failures)
            return count

    def clear_failures(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)

    def spend_step(self, username: str, step: int) -> bool:
        with self._lock:
            if step <= self._steps.get(username, -1):
                return False
            self._steps[username] = step
            _bound(self._steps)
            return True

    def counts(self) -> dict[str, int]:
        return {"challenges": len(self._challenges), "users": len(self._failures.keys() | self._steps.keys())}

    def clear(self) -> None:
        self._challenges.clear()
        with self._lock:
            self._failures.clear()
            self._steps.clear()


def _bound(per_user: dict[str, int]) -> None:
    """Past MAX_USERS_TRACKED users, forget the one recorded first (lock held)."""
    if len(per_user) > MAX_USERS_TRACKED:
        del per_user[next(iter(per_user))]


# Accept a TOTP step once (KEYS: the hash of each user's last step; ARGV: the user, the
# step, the cap on users, the TTL).
_SPEND_STEP = """
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) <= last then return 0 end
if last < 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], redis.call('HRANDFIELD', KEYS[1]))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# Count a wrong code (KEYS: the hash of each user's count; ARGV: the user, the cap, the TTL).
_ADD_FAILURE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], redis.call('HRANDFIELD', KEYS[1]))
end
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return count
"""


class RedisChallengeStore(ChallengeStore):
    """Challenges as expiring records (``challenges`` and ``challenges:expiry``: see
    stores/expiring.py), and the hashes ``mfa:failures`` and ``mfa:steps`` by user."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._challenges = RedisRecords(connection, "challenges", CHALLENGES)
        self._failures, self._steps = connection.key("mfa:failures"), connection.key("mfa:steps")
        connection.state_keys += [self._failures, self._steps]
        self._add_failure = connection.redis.register_script(_ADD_FAILURE)
        self._spend_step = connection.redis.register_script(_SPEND_STEP)

    @guarded
    def add(self, token: str, record: ChallengeRecord, *, now: float) -> None:
        text = json.dumps([record.kind, record.username, record.expires_at, record.then, record.development_code])
        self._challenges.add(token, text, record.expires_at, now)

    @guarded
    def get(self, token: str) -> ChallengeRecord | None:
        entry = self._challenges.get(token)
        if entry is None:
            return None
        kind, username, expires_at, then, development_code = json.loads(entry[0])
        return ChallengeRecord(kind, username, expires_at, tuple(then), development_code, entry[1])

    @guarded
    def use(self, token: str) -> bool:
        return self._challenges.take(token)[0] == "ok"

    @guarded
    def add_failure(self, username: str) -> int:
        return int(self._add_failure(keys=[self._failures], args=[username, MAX_USERS_TRACKED, STATE_TTL]))

    @guarded
    def clear_failures(self, username: str) -> None:
        self.connection.redis.hdel(self._failures, username)

    @guarded
    def spend_step(self, username: str, step: int) -> bool:
        return bool(self._spend_step(keys=[self._steps], args=[username, step, MAX_USERS_TRACKED, STATE_TTL]))

    @guarded
    def counts(self) -> dict[str, int]:
        redis = self.connection.redis
        users = set(redis.hkeys(self._failures)) | set(redis.hkeys(self._steps))
        return {"challenges": len(self._challenges), "users": len(users)}

    @guarded
    def clear(self) -> None:
        self._challenges.clear()
        self.connection.redis.delete(self._failures, self._steps)
