"""Where the mock keeps its state: in this process, or in Redis for many processes.

Everything that changes while the mock runs lives in a store: the clock, the run-time
users, the armed modes with their remaining ``times`` and probability draws, refresh
tokens and revocations, and the journal. Keys and fixtures do not: every process loads
the same ones (a generated RS256/ES256 key is the exception, shared through the store).

``MemoryStore`` (the default) keeps it in plain dicts under locks: one process, fastest.
``RedisStore`` (``state: redis://HOST:PORT/DB``, the ``mockauth[redis]`` extra) maps the
same state onto Redis structures so that any number of workers and machines answer as
one mock. What must be atomic across processes is one Redis command or Lua script:
counting down ``times``, using a refresh token once, drawing a seeded probability,
appending to the capped journal.
"""

from __future__ import annotations

import abc
import functools
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from ._errors import ConfigError, StoreUnavailable
from ._modes import Arming, lookup
from ._users import User, user_from_mapping

if TYPE_CHECKING:
    from ._settings import Settings

ClockState = tuple[float, "float | None"]  # (offset from the wall clock, frozen at)
JournalRecord = tuple[int, dict[str, Any]]

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


class Store(abc.ABC):
    """The state of one mock. Every method is safe to call from many threads; in a
    shared store, from many processes."""

    url = "memory"
    shared = False

    # Hooks with nothing to do in memory, so not abstract.
    def begin(self) -> None:  # noqa: B027
        """A request starts: a shared store may read what it needs once for the whole
        request (a request sees the state as it was when it started, and its own changes)."""

    def end(self) -> None:  # noqa: B027
        """The request is answered."""

    @abc.abstractmethod
    def initialize(self, seed: Callable[[], None]) -> bool:
        """Give a new store its first state by calling `seed` (the fixture state); a
        shared store that another process has seeded already is joined instead.
        Returns whether `seed` ran."""

    @abc.abstractmethod
    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        """The PEM private key for `algorithm`: `generate()`'s in a store of its own,
        the first process's in a shared one, so tokens verify whichever process answers."""

    # clock
    @abc.abstractmethod
    def clock(self) -> ClockState:
        ...

    @abc.abstractmethod
    def change_clock(self, change: Callable[[float, float | None], ClockState]) -> ClockState:
        """Apply `change(offset, frozen_at)` atomically; returns the new state."""

    # users
    @abc.abstractmethod
    def users(self) -> Mapping[str, User]:
        """The users by username; the same object until they change (readers may cache by identity)."""

    @abc.abstractmethod
    def put_user(self, user: User) -> None:
        ...

    @abc.abstractmethod
    def remove_user(self, username: str) -> bool:
        ...

    @abc.abstractmethod
    def replace_users(self, users: Iterable[User]) -> None:
        ...

    # modes
    @abc.abstractmethod
    def add_arming(self, make: Callable[[int], Arming]) -> Arming:
        """Store the arming `make(new_id)` builds; ids grow, so a later arming has a larger one."""

    @abc.abstractmethod
    def armings(self) -> list[Arming]:
        """The armed modes, oldest first, ``times`` being what is left."""

    @abc.abstractmethod
    def remove_armings(self, ids: Iterable[int]) -> int:
        ...

    @abc.abstractmethod
    def take(self, arming: Arming) -> bool:
        """Count one use of an arming with ``times``: False when another request took the
        last one; the arming is gone once its count reaches zero."""

    @abc.abstractmethod
    def draw_index(self, arming: Arming) -> int:
        """The number of this draw of a seeded probability (1, 2, ...), across every process."""

    # journal
    @abc.abstractmethod
    def add_entry(self, values: dict[str, Any]) -> int:
        ...

    @abc.abstractmethod
    def entries(self) -> list[JournalRecord]:
        ...

    @abc.abstractmethod
    def journal_total(self) -> int:
        ...

    @abc.abstractmethod
    def journal_length(self) -> int:
        ...

    @abc.abstractmethod
    def clear_journal(self) -> None:
        ...

    @abc.abstractmethod
    def resize_journal(self, size: int) -> None:
        ...

    # tokens
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
    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        """Revoke an access token until it expires, and its family for `family_lifetime` seconds."""

    @abc.abstractmethod
    def is_revoked(self, jti: str, family: str | None) -> bool:
        ...

    @abc.abstractmethod
    def clear_tokens(self) -> None:
        ...

    def close(self) -> None:  # noqa: B027
        """Let go of connections (nothing to do in memory)."""


class MemoryStore(Store):
    """The state in this process: dicts and a deque under locks."""

    def __init__(self, journal_size: int = 1000) -> None:
        self._clock_lock = threading.Lock()
        self._clock: ClockState = (0.0, None)
        self._users_lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._modes_lock = threading.Lock()
        self._armed: dict[int, Arming] = {}
        self._arming_ids = itertools.count(1)
        self._draws: dict[int, int] = {}
        self._journal_lock = threading.Lock()
        self._journal: deque[JournalRecord] = deque(maxlen=journal_size)
        self._journal_ids = itertools.count(1)
        self._journal_total = 0
        self._tokens_lock = threading.Lock()
        self._refresh: dict[str, RefreshRecord] = {}
        self._revoked_jtis: dict[str, float] = {}  # jti -> exp, forgotten once expired
        self._revoked_families: dict[str, float] = {}  # family -> when it may be forgotten
        self._issued = 0

    def initialize(self, seed: Callable[[], None]) -> bool:
        seed()
        return True

    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        return generate()

    def clock(self) -> ClockState:
        return self._clock

    def change_clock(self, change: Callable[[float, float | None], ClockState]) -> ClockState:
        with self._clock_lock:
            self._clock = change(*self._clock)
            return self._clock

    def users(self) -> Mapping[str, User]:
        return self._users

    # Copied on write, never mutated: readers hold no lock.
    def put_user(self, user: User) -> None:
        with self._users_lock:
            self._users = {**self._users, user.username: user}

    def remove_user(self, username: str) -> bool:
        with self._users_lock:
            found = username in self._users
            self._users = {k: v for k, v in self._users.items() if k != username}
            return found

    def replace_users(self, users: Iterable[User]) -> None:
        with self._users_lock:
            self._users = {user.username: user for user in users}

    def add_arming(self, make: Callable[[int], Arming]) -> Arming:
        with self._modes_lock:
            arming = make(next(self._arming_ids))
            self._armed[arming.id] = arming
            return arming

    def armings(self) -> list[Arming]:
        return list(self._armed.values()) if self._armed else []

    def remove_armings(self, ids: Iterable[int]) -> int:
        with self._modes_lock:
            removed = 0
            for arming_id in ids:
                if self._armed.pop(arming_id, None) is not None:
                    removed += 1
                self._draws.pop(arming_id, None)
            return removed

    def take(self, arming: Arming) -> bool:
        with self._modes_lock:
            current = self._armed.get(arming.id)
            if current is None or current.times is None or current.times <= 0:
                return False
            current.times -= 1
            if current.times <= 0:
                del self._armed[arming.id]
                self._draws.pop(arming.id, None)
            return True

    def draw_index(self, arming: Arming) -> int:
        with self._modes_lock:
            self._draws[arming.id] = index = self._draws.get(arming.id, 0) + 1
            return index

    def add_entry(self, values: dict[str, Any]) -> int:
        with self._journal_lock:
            entry_id = next(self._journal_ids)
            self._journal.append((entry_id, values))
            self._journal_total += 1
            return entry_id

    def entries(self) -> list[JournalRecord]:
        with self._journal_lock:
            return list(self._journal)

    def journal_total(self) -> int:
        return self._journal_total

    def journal_length(self) -> int:
        return len(self._journal)

    def clear_journal(self) -> None:
        with self._journal_lock:
            self._journal.clear()
            self._journal_total = 0

    def resize_journal(self, size: int) -> None:
        with self._journal_lock:
            self._journal = deque(self._journal, maxlen=size)

    def add_refresh(self, token: str, record: RefreshRecord, *, now: float, lifetime: int) -> None:
        with self._tokens_lock:
            self._prune(now)
            self._refresh[token] = record

    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        with self._tokens_lock:
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

    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        with self._tokens_lock:
            self._revoked_jtis[jti] = expires_at
            if family is not None:
                self._revoked_families[family] = now + family_lifetime

    def is_revoked(self, jti: str, family: str | None) -> bool:
        return jti in self._revoked_jtis or (family is not None and family in self._revoked_families)

    def clear_tokens(self) -> None:
        with self._tokens_lock:
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


# -- Redis --------------------------------------------------------------------------

# Every key of a namespace expires after a day without a running mock touching it, so an
# abandoned namespace leaves nothing behind in a shared Redis. Running processes renew
# them every HEARTBEAT seconds; token keys expire with their tokens.
STATE_TTL = 86_400
HEARTBEAT = 30.0
# Token keys outlive their token by this much, so a clock moved back a little does not
# bring a revoked token back; beyond it they are gone, like an expired token.
TOKEN_TTL_MARGIN = 3600

# Count down `times` (KEYS: modes, times, draws; ARGV: id): 1 if this request took one.
_TAKE = """
local left = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if not left or left <= 0 then return 0 end
if left == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
end
return 1
"""

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

# Append to the capped journal (KEYS: list, ids, total; ARGV: values JSON, size, TTL).
_JOURNAL = """
local id = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], id .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('INCR', KEYS[3])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return id
"""

_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """Redis unreachable becomes StoreUnavailable (the API answers 503), logged once per
    outage; the first call after an outage checks that the state is still there."""

    @functools.wraps(method)
    def wrapper(self: RedisStore, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._check_at <= time.monotonic():
                self._check()
            result = method(self, *args, **kwargs)
        except self._unreachable as error:
            self._down(error)
            raise StoreUnavailable(
                f"The mock's shared state store ({self.url}) is unreachable; retry later."
            ) from None
        if self._outage:
            self._up()
        return result

    return cast(_F, wrapper)


@dataclass
class _Snapshot:
    clock: ClockState
    users_version: str | None
    armings: list[Arming]


def _clock_state(values: list[Any]) -> ClockState:
    offset, frozen = values
    return float(offset or 0.0), (float(frozen) if frozen else None)


def _redacted_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:[redacted]@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _arming_json(arming: Arming) -> str:
    return json.dumps({
        "name": arming.mode.name,
        "options": arming.options,
        "operation": arming.operation,
        "user": arming.user,
        "times": arming.times,
        "probability": arming.probability,
        "seed": arming.seed,
        "source": arming.source,
    })


def _user_json(user: User) -> str:
    return json.dumps({**user.public(), "password": user.password})


class RedisStore(Store):
    """The state in Redis under ``mockauth:<namespace>:``, shared by every process
    pointed at the same URL and namespace."""

    shared = True

    def __init__(
        self,
        url: str,
        namespace: str = "default",
        *,
        journal_size: int = 1000,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "setting 'state': a redis:// store needs the redis client: pip install 'mockauth[redis]'"
            ) from None
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = _redacted_url(url)
        self.namespace = namespace
        self.log = log
        self._journal_size = journal_size
        self._unreachable: tuple[type[BaseException], ...] = (
            redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError,
        )
        # One retry: a pooled connection that died with a restarted Redis fails once,
        # the retry reconnects. Short timeouts: a lost Redis is a quick 503, not a hang.
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 1), decode_responses=True,
        )
        self._prefix = f"mockauth:{namespace}:"
        k = self._key
        self._state_keys = [
            k("seeded"), k("clock"), k("users"), k("users:version"), k("modes"), k("modes:times"),
            k("modes:draws"), k("modes:ids"), k("journal"), k("journal:ids"), k("journal:total"),
        ]
        self._take = self._redis.register_script(_TAKE)
        self._rotate = self._redis.register_script(_ROTATE)
        self._journal_add = self._redis.register_script(_JOURNAL)
        self._seed: Callable[[], None] | None = None
        self._signing_pem: tuple[str, bytes] | None = None
        self._check_at = float("inf")  # no check before initialize()
        self._outage = False
        self._outage_lock = threading.Lock()
        self._users_cache: tuple[str | None, Mapping[str, User]] = ("", {})
        # Per request (thread): the clock, the users' version and the armed modes, read in
        # one round trip when first needed; any change made by the request drops it.
        self._local = threading.local()

    def _key(self, name: str) -> str:
        return self._prefix + name

    # -- the per-request snapshot ----------------------------------------------------

    def begin(self) -> None:
        self._local.active = True
        self._local.snapshot = None

    def end(self) -> None:
        self._local.active = False
        self._local.snapshot = None

    def _snapshot(self) -> _Snapshot | None:
        """The request's snapshot, read now if not yet; None outside a request."""
        local = self._local
        if not getattr(local, "active", False):
            return None
        snapshot: _Snapshot | None = local.snapshot
        if snapshot is None:
            # Not MULTI: parsing its extra replies costs more than it buys here.
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self._key("clock"), ["offset", "frozen"])
                pipe.get(self._key("users:version"))
                pipe.hgetall(self._key("modes"))
                pipe.hgetall(self._key("modes:times"))
                clock, version, modes, times = pipe.execute()
            snapshot = local.snapshot = _Snapshot(_clock_state(clock), version, self._armings_of(modes, times))
        return snapshot

    def _changed(self) -> None:
        if getattr(self._local, "active", False):
            self._local.snapshot = None

    # -- lifecycle -------------------------------------------------------------------

    def initialize(self, seed: Callable[[], None]) -> bool:
        self._seed = seed
        try:
            self._redis.ping()
        except self._unreachable as error:
            raise StoreUnavailable(f"setting 'state': cannot reach {self.url}: {error}") from None
        self._check_at = time.monotonic() + HEARTBEAT
        try:
            return self._seed_if_empty()
        except self._unreachable as error:
            raise StoreUnavailable(f"setting 'state': lost {self.url} while starting: {error}") from None

    def _seed_if_empty(self) -> bool:
        """Seed the namespace unless it is seeded: at start, and when Redis came back empty."""
        if self._redis.exists(self._key("seeded")):
            return False
        with self._redis.lock(self._key("lock:seed"), timeout=30, blocking_timeout=30):
            if self._redis.exists(self._key("seeded")):
                return False
            if self._signing_pem is not None:
                algorithm, pem = self._signing_pem
                self._redis.set(self._key(f"key:{algorithm}"), pem, nx=True, ex=STATE_TTL)
            if self._seed is not None:
                self._seed()
            self._redis.set(self._key("seeded"), "1", ex=STATE_TTL)
            return True

    def _check(self) -> None:
        """Renew the namespace's TTLs, and seed it again if Redis lost it."""
        self._check_at = time.monotonic() + HEARTBEAT
        with self._redis.pipeline(transaction=False) as pipe:
            for key in self._state_keys:
                pipe.expire(key, STATE_TTL)
            if self._signing_pem is not None:
                pipe.expire(self._key(f"key:{self._signing_pem[0]}"), STATE_TTL)
            seeded = pipe.execute()[0]
        if not seeded:
            self.log(f"state store {self.url}: namespace {self.namespace!r} is empty (Redis restarted?); seeding it")
            self._seed_if_empty()

    def _down(self, error: BaseException) -> None:
        self._check_at = 0.0  # once it answers again, look whether it kept our state
        with self._outage_lock:
            if self._outage:
                return
            self._outage = True
        self.log(
            f"state store {self.url} unreachable ({error}); answering 503 temporarily_unavailable until it is back"
        )

    def _up(self) -> None:
        with self._outage_lock:
            if not self._outage:
                return
            self._outage = False
        self.log(f"state store {self.url} reachable again")

    @_guarded
    def signing_key(self, algorithm: str, generate: Callable[[], bytes]) -> bytes:
        key = self._key(f"key:{algorithm}")
        stored = self._redis.get(key)
        if stored is None:
            self._redis.set(key, generate().decode(), nx=True, ex=STATE_TTL)
            stored = self._redis.get(key)
        pem = str(stored).encode()
        self._signing_pem = (algorithm, pem)
        return pem

    def close(self) -> None:
        self._redis.close()

    # -- clock -----------------------------------------------------------------------

    @_guarded
    def clock(self) -> ClockState:
        snapshot = self._snapshot()
        if snapshot is not None:
            return snapshot.clock
        return _clock_state(self._redis.hmget(self._key("clock"), ["offset", "frozen"]))

    @_guarded
    def change_clock(self, change: Callable[[float, float | None], ClockState]) -> ClockState:
        key = self._key("clock")
        result: list[ClockState] = []

        def transact(pipe: Any) -> None:
            offset, frozen = pipe.hmget(key, ["offset", "frozen"])
            state = change(float(offset or 0.0), float(frozen) if frozen else None)
            pipe.multi()
            pipe.hset(key, mapping={"offset": repr(state[0]), "frozen": "" if state[1] is None else repr(state[1])})
            pipe.expire(key, STATE_TTL)
            result[:] = [state]

        # WATCH/MULTI, retried by redis-py when another process changed the clock meanwhile.
        self._redis.transaction(transact, key)
        self._changed()
        return result[0]

    # -- users -----------------------------------------------------------------------

    @_guarded
    def users(self) -> Mapping[str, User]:
        snapshot = self._snapshot()
        version = snapshot.users_version if snapshot is not None else self._redis.get(self._key("users:version"))
        cached_version, cached = self._users_cache
        if version == cached_version:
            return cached
        with self._redis.pipeline() as pipe:
            pipe.hgetall(self._key("users"))
            pipe.get(self._key("users:version"))
            raw, version = pipe.execute()
        users = {name: user_from_mapping(json.loads(text)) for name, text in raw.items()}
        self._users_cache = (version, users)
        return users

    def _change_users(self, *commands: Callable[[Any], Any]) -> list[Any]:
        self._changed()
        with self._redis.pipeline() as pipe:  # MULTI/EXEC: every process sees all or nothing
            for command in commands:
                command(pipe)
            pipe.incr(self._key("users:version"))
            pipe.expire(self._key("users"), STATE_TTL)
            pipe.expire(self._key("users:version"), STATE_TTL)
            return list(pipe.execute())

    @_guarded
    def put_user(self, user: User) -> None:
        self._change_users(lambda pipe: pipe.hset(self._key("users"), user.username, _user_json(user)))

    @_guarded
    def remove_user(self, username: str) -> bool:
        return bool(self._change_users(lambda pipe: pipe.hdel(self._key("users"), username))[0])

    @_guarded
    def replace_users(self, users: Iterable[User]) -> None:
        mapping = {user.username: _user_json(user) for user in users}
        commands: list[Callable[[Any], Any]] = [lambda pipe: pipe.delete(self._key("users"))]
        if mapping:
            commands.append(lambda pipe: pipe.hset(self._key("users"), mapping=mapping))
        self._change_users(*commands)

    # -- modes -----------------------------------------------------------------------

    @_guarded
    def add_arming(self, make: Callable[[int], Arming]) -> Arming:
        self._changed()
        arming = make(int(self._redis.incr(self._key("modes:ids"))))
        with self._redis.pipeline() as pipe:
            pipe.hset(self._key("modes"), str(arming.id), _arming_json(arming))
            if arming.times is not None:
                pipe.hset(self._key("modes:times"), str(arming.id), arming.times)
            for name in ("modes", "modes:times", "modes:ids"):
                pipe.expire(self._key(name), STATE_TTL)
            pipe.execute()
        return arming

    @_guarded
    def armings(self) -> list[Arming]:
        snapshot = self._snapshot()
        if snapshot is not None:
            return snapshot.armings
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._key("modes"))
            pipe.hgetall(self._key("modes:times"))
            modes, times = pipe.execute()
        return self._armings_of(modes, times)

    @staticmethod
    def _armings_of(modes: Mapping[str, str], times: Mapping[str, str]) -> list[Arming]:
        armings = []
        for arming_id, text in sorted(modes.items(), key=lambda item: int(item[0])):
            values = json.loads(text)
            left = values["times"]
            if left is not None:
                left = int(times.get(arming_id, 0))
                if left <= 0:
                    continue  # its last use was just taken
            armings.append(Arming(
                int(arming_id), lookup(values["name"]), values["options"], values["operation"],
                values["user"], left, values["probability"], values["seed"], values["source"],
            ))
        return armings

    @_guarded
    def remove_armings(self, ids: Iterable[int]) -> int:
        fields = [str(arming_id) for arming_id in ids]
        if not fields:
            return 0
        self._changed()
        with self._redis.pipeline() as pipe:
            pipe.hdel(self._key("modes"), *fields)
            pipe.hdel(self._key("modes:times"), *fields)
            pipe.hdel(self._key("modes:draws"), *fields)
            return int(pipe.execute()[0])

    @_guarded
    def take(self, arming: Arming) -> bool:
        self._changed()
        keys = [self._key("modes"), self._key("modes:times"), self._key("modes:draws")]
        return bool(self._take(keys=keys, args=[str(arming.id)]))

    @_guarded
    def draw_index(self, arming: Arming) -> int:
        with self._redis.pipeline() as pipe:
            pipe.hincrby(self._key("modes:draws"), str(arming.id), 1)
            pipe.expire(self._key("modes:draws"), STATE_TTL)
            return int(pipe.execute()[0])

    # -- journal ---------------------------------------------------------------------

    @_guarded
    def add_entry(self, values: dict[str, Any]) -> int:
        keys = [self._key("journal"), self._key("journal:ids"), self._key("journal:total")]
        return int(self._journal_add(keys=keys, args=[json.dumps(values), self._journal_size, STATE_TTL]))

    @_guarded
    def entries(self) -> list[JournalRecord]:
        records = []
        for line in self._redis.lrange(self._key("journal"), 0, -1):
            entry_id, _, text = str(line).partition(" ")
            values = json.loads(text)
            values["modes"] = tuple(values["modes"])
            records.append((int(entry_id), values))
        return records

    @_guarded
    def journal_total(self) -> int:
        return int(self._redis.get(self._key("journal:total")) or 0)

    @_guarded
    def journal_length(self) -> int:
        return int(self._redis.llen(self._key("journal")))

    @_guarded
    def clear_journal(self) -> None:
        self._redis.delete(self._key("journal"), self._key("journal:total"))

    @_guarded
    def resize_journal(self, size: int) -> None:
        self._journal_size = size
        self._redis.ltrim(self._key("journal"), -size, -1)

    # -- tokens ----------------------------------------------------------------------

    @_guarded
    def add_refresh(self, token: str, record: RefreshRecord, *, now: float, lifetime: int) -> None:
        key = self._key("refresh:" + token)
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={
                "user": record.username, "family": record.family, "exp": repr(record.expires_at), "used": "0",
            })
            pipe.expire(key, lifetime + TOKEN_TTL_MARGIN)
            pipe.execute()

    @_guarded
    def rotate(self, token: str, *, now: float, family_lifetime: int) -> tuple[str, RefreshRecord | None]:
        answer = self._rotate(
            keys=[self._key("refresh:" + token)],
            args=[self._key("revoked:family:"), repr(now), family_lifetime + TOKEN_TTL_MARGIN],
        )
        if answer[0] == "unknown":
            return "unknown", None
        return str(answer[0]), RefreshRecord(answer[1], answer[2], float(answer[3]), answer[0] != "expired")

    @_guarded
    def refresh_owner(self, token: str) -> str | None:
        owner = self._redis.hget(self._key("refresh:" + token), "user")
        return None if owner is None else str(owner)

    @_guarded
    def revoke(self, jti: str, expires_at: float, family: str | None, *, now: float, family_lifetime: int) -> None:
        with self._redis.pipeline() as pipe:
            pipe.set(self._key("revoked:jti:" + jti), "1", ex=int(max(expires_at - now, 0)) + TOKEN_TTL_MARGIN)
            if family is not None:
                pipe.set(self._key("revoked:family:" + family), "1", ex=family_lifetime + TOKEN_TTL_MARGIN)
            pipe.execute()

    @_guarded
    def is_revoked(self, jti: str, family: str | None) -> bool:
        keys = [self._key("revoked:jti:" + jti)]
        if family is not None:
            keys.append(self._key("revoked:family:" + family))
        return bool(self._redis.exists(*keys))

    @_guarded
    def clear_tokens(self) -> None:
        for pattern in ("refresh:*", "revoked:*"):
            batch: list[str] = []
            for key in self._redis.scan_iter(match=self._key(pattern), count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    self._redis.unlink(*batch)
                    batch = []
            if batch:
                self._redis.unlink(*batch)


def open_store(settings: Settings, log: Callable[[str], None] = lambda message: None) -> Store:
    """The store the ``state`` setting names."""
    if settings.state == "memory":
        return MemoryStore(settings.journal_size)
    return RedisStore(settings.state, settings.state_namespace, journal_size=settings.journal_size, log=log)
