"""Records that expire on the mock's clock (authorization codes, login sessions, grants,
login challenges), in memory and in Redis side by side, bounded the same way on both.

Each record carries its ``expires_at`` in the mock's time and a used flag (a code or a
challenge is taken once). A record is kept FORGET_AFTER seconds past its end, so that a
clock moved back by less than that still finds it, and a code used once is still told
apart from an unknown one (its second use revokes its tokens). In memory, each addition
forgets what has ended (``Ending``: what that removes is all it costs); in Redis, every
PRUNE_EVERY additions. Redis keys carry only the namespace's TTL, never one of a
record's own (Redis's clock is the wall clock, which runs on while the mock's stands
still).

Each kind is capped (its ``Bound``). At the cap, records that have expired go first,
margin or not; past that, a record still alive is never forgotten and the new one is
refused (``StoreFull``, answered ``503 temporarily_unavailable`` with ``Retry-After``),
except for kinds whose bound says to drop the earliest to expire (grants, which go with
the refresh tokens they describe, dropped the same way at the same cap).
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from typing import Generic, NamedTuple, Protocol, TypeVar

from .redis import STATE_TTL, RedisConnection

FORGET_AFTER = 3600
PRUNE_EVERY = 1000
_TAKE_OUTCOMES = ("ok", "used", "expired", "unknown")


class Bound(NamedTuple):
    """How many records of a kind a store keeps, and what it does past that."""

    what: str  # "authorization codes", for the refusal's sentence
    cap: int
    drop_earliest: bool = False  # past the cap, drop the earliest to expire (else refuse)


class StoreFull(Exception):
    """A store holds as many records of a kind alive on the mock's clock as it may:
    nothing more until some expire. ``retry_after``: seconds of mock time until one does."""

    def __init__(self, what: str, cap: int, retry_after: int) -> None:
        self.what, self.cap, self.retry_after = what, cap, max(retry_after, 1)
        self.description = (
            f"The mock holds {cap:,} {what} that have not expired yet on its clock; it takes "
            "more once some expire (or after POST /_mockauth/reset)."
        )
        super().__init__(self.description)


class _Expiring(Protocol):
    @property
    def expires_at(self) -> float: ...


R = TypeVar("R", bound=_Expiring)


V = TypeVar("V")


class Ending(Generic[V]):
    """Values by key that each end at a time of the mock's clock, with a heap of
    (end, key) beside them, earliest first: forgetting what has ended and dropping what
    ends first cost what they remove, never a pass over all that is held (at the cap of
    100,000 refresh tokens, a pass and a sort every 10,000 logins were a seventh of the
    app's time under gunicorn, bench/RESULTS.md).

    The heap is not told when a value is replaced or removed: an entry whose end is no
    longer its key's is passed over when it comes up, and the heap is built afresh when
    such entries would make it more than twice the size of what is held."""

    def __init__(self, end: Callable[[V], float]) -> None:
        self.held: dict[str, V] = {}
        self._end = end
        self._ends: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self.held)

    def set(self, key: str, value: V) -> None:
        self.held[key] = value
        heapq.heappush(self._ends, (self._end(value), key))
        if len(self._ends) > 2 * len(self.held) + 1000:
            self._ends = [(self._end(value), key) for key, value in self.held.items()]
            heapq.heapify(self._ends)

    def forget_ended(self, horizon: float) -> None:
        """Remove every value that ends at or before `horizon`."""
        while self._ends and self._ends[0][0] <= horizon:
            self._pop_first()

    def drop_down_to(self, size: int) -> None:
        """Remove the values that end first until `size` are left."""
        while len(self.held) > size:
            self._pop_first()

    def first_end(self) -> float:
        """When the first value held ends (infinity when none is)."""
        while self._ends:
            end, key = self._ends[0]
            if key in self.held and self._end(self.held[key]) == end:
                return end
            heapq.heappop(self._ends)
        return math.inf

    def clear(self) -> None:
        self.held.clear()
        self._ends.clear()

    def _pop_first(self) -> None:
        end, key = heapq.heappop(self._ends)
        value = self.held.get(key)
        if value is not None and self._end(value) == end:
            del self.held[key]


def _record_end(entry: tuple[_Expiring, bool]) -> float:
    return entry[0].expires_at


class MemoryRecords(Generic[R]):
    """Records by key with their used flag, bounded (see the module docstring)."""

    def __init__(self, bound: Bound) -> None:
        self.bound = bound
        self._lock = threading.Lock()
        self._entries: Ending[tuple[R, bool]] = Ending(_record_end)

    def add(self, key: str, record: R, now: float) -> None:
        with self._lock:
            self._entries.forget_ended(now - FORGET_AFTER)
            if key not in self._entries.held and len(self._entries) >= self.bound.cap:
                self._make_room(now)
            self._entries.set(key, (record, False))

    def get(self, key: str) -> tuple[R, bool] | None:
        """The record and whether it was used; None when unknown."""
        return self._entries.held.get(key)

    def take(self, key: str, now: float | None = None) -> tuple[str, R | None]:
        """Use a record once: ("ok", record); ("used", record) when used before;
        ("expired", record) when `now` is past its end; ("unknown", None)."""
        with self._lock:
            entry = self._entries.held.get(key)
            if entry is None:
                return "unknown", None
            record, used = entry
            if used:
                return "used", record
            if now is not None and record.expires_at <= now:
                return "expired", record
            self._entries.held[key] = (record, True)  # the same end: its place in the heap stands
            return "ok", record

    def remove(self, key: str) -> None:
        with self._lock:
            self._entries.held.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _make_room(self, now: float) -> None:
        """Room for one more at the cap (lock held): the expired go, then the earliest
        to expire when the bound says so; else StoreFull."""
        self._entries.forget_ended(now)
        cap = self.bound.cap
        if len(self._entries) < cap:
            return
        if self.bound.drop_earliest:
            self._entries.drop_down_to(cap - 1)
            return
        raise StoreFull(self.bound.what, cap, math.ceil(self._entries.first_end() - now))


# A record is one hash field, "<used 0|1><text>", with its end in a sorted set beside.
# The scripts forget at most 5000 at once: Lua's unpack() takes a few thousand values.

# Add (KEYS: hash, expiry set; ARGV: key, text, expires_at, now, cap, drop 0|1, TTL):
# {1} added; {0, the earliest end} when the cap is reached by records alive at `now`.
_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4], 'LIMIT', 0, 5000)
  if #gone > 0 then
    redis.call('HDEL', KEYS[1], unpack(gone))
    redis.call('ZREM', KEYS[2], unpack(gone))
  end
  local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5]) + 1
  if excess > 0 then
    if ARGV[6] ~= '1' then return {0, redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]} end
    local dropped = redis.call('ZPOPMIN', KEYS[2], math.min(excess, 5000))
    for i = 1, #dropped, 2 do redis.call('HDEL', KEYS[1], dropped[i]) end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], '0' .. ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {1}
"""

# Take once (KEYS: hash, expiry set; ARGV: key, now or '' for no expiry check). The
# record stays, marked used, so a second use is told apart from an unknown key.
_TAKE = """
local text = redis.call('HGET', KEYS[1], ARGV[1])
if not text then return {'unknown'} end
if string.sub(text, 1, 1) == '1' then return {'used', text} end
if ARGV[2] ~= '' and tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0') <= tonumber(ARGV[2]) then
  return {'expired', text}
end
redis.call('HSET', KEYS[1], ARGV[1], '1' .. string.sub(text, 2))
return {'ok', text}
"""

# Forget what ended before the horizon (KEYS: hash, expiry set; ARGV: horizon).
_PRUNE = """
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 5000)
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
return #old
"""


class RedisRecords:
    """The hash ``<name>`` (key -> used flag and text) and the sorted set
    ``<name>:expiry`` (key -> its end, mock time): the memory records' twin. The caller
    (a store's ``guarded`` method) turns records into text and back."""

    def __init__(self, connection: RedisConnection, name: str, bound: Bound) -> None:
        self.connection = connection
        self.bound = bound
        self._hash, self._expiry = connection.key(name), connection.key(name + ":expiry")
        connection.state_keys += [self._hash, self._expiry]
        self._add = connection.redis.register_script(_ADD)
        self._take = connection.redis.register_script(_TAKE)
        self._prune = connection.redis.register_script(_PRUNE)
        self._added = 0
        self._lock = threading.Lock()

    def add(self, key: str, text: str, expires_at: float, now: float) -> None:
        with self._lock:
            self._added += 1
            due = self._added % PRUNE_EVERY == 0
        if due:
            self._prune(keys=[self._hash, self._expiry], args=[repr(now - FORGET_AFTER)])
        bound = self.bound
        added = self._add(
            keys=[self._hash, self._expiry],
            args=[key, text, repr(expires_at), repr(now), bound.cap, int(bound.drop_earliest), STATE_TTL],
        )
        if not added[0]:
            raise StoreFull(bound.what, bound.cap, math.ceil(float(added[1]) - now))

    def get(self, key: str) -> tuple[str, bool] | None:
        """The record's text and whether it was used; None when unknown."""
        text = self.connection.redis.hget(self._hash, key)
        return None if text is None else (str(text)[1:], str(text)[0] == "1")

    def take(self, key: str, now: float | None = None) -> tuple[str, str | None]:
        """As ``MemoryRecords.take``, with the record's text."""
        answer = self._take(keys=[self._hash, self._expiry], args=[key, "" if now is None else repr(now)])
        outcome = str(answer[0])
        assert outcome in _TAKE_OUTCOMES
        return outcome, None if outcome == "unknown" else str(answer[1])[1:]

    def remove(self, key: str) -> None:
        with self.connection.redis.pipeline(transaction=False) as pipe:
            pipe.hdel(self._hash, key)
            pipe.zrem(self._expiry, key)
            pipe.execute()

    def clear(self) -> None:
        self.connection.redis.delete(self._hash, self._expiry)

    def __len__(self) -> int:
        return int(self.connection.redis.zcard(self._expiry))
