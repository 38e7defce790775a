"""Where OAuth grants live: authorization codes (single use), login sessions of the
authorization endpoint, what each token family was granted (client, scope), and the
issuers tokens were signed under.

The records carry their own expiry, read against the mock's clock by ``_state.grants``;
the Redis keys expire on the wall clock a margin later, so nothing is left behind.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import json
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

from .redis import STATE_TTL, RedisConnection, guarded

# The in-memory store forgets what has expired every PRUNE_EVERY additions and keeps at
# most MAX_RECORDS of each kind (Redis forgets them with the namespace's backstop TTL).
PRUNE_EVERY = 1000
MAX_RECORDS = 100_000
# Issuers remembered (a mock reached under more URLs than this accepts the others' tokens
# only where they were issued).
MAX_ISSUERS = 64


@dataclass(frozen=True)
class CodeRecord:
    """An authorization code: what the token endpoint checks before it exchanges it."""

    client_id: str
    username: str
    scope: str
    redirect_uri: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float
    expires_at: float
    family: str  # the token family its tokens get (revoked if the code is used twice)


@dataclass(frozen=True)
class SessionRecord:
    """A browser signed in at the authorization endpoint (its cookie names the session)."""

    username: str
    auth_time: float
    expires_at: float


@dataclass(frozen=True)
class GrantRecord:
    """What a token family was granted: its client and scope, and when the user signed in."""

    client_id: str
    username: str
    scope: str
    auth_time: float
    expires_at: float


_R = TypeVar("_R", CodeRecord, SessionRecord, GrantRecord)
_TAKE_OUTCOMES = ("ok", "used", "expired", "unknown")


class GrantStore(abc.ABC):
    @abc.abstractmethod
    def add_code(self, code: str, record: CodeRecord, *, now: float) -> None:
        ...

    @abc.abstractmethod
    def take_code(self, code: str, *, now: float) -> tuple[str, CodeRecord | None]:
        """Use a code once: ("ok", record); ("used", record) when it was used before;
        ("expired", record); ("unknown", None)."""

    @abc.abstractmethod
    def peek_code(self, code: str) -> CodeRecord | None:
        """The code's record without using it (whose request it is, for per-user modes)."""

    @abc.abstractmethod
    def add_session(self, session_id: str, record: SessionRecord, *, now: float) -> None:
        ...

    @abc.abstractmethod
    def session(self, session_id: str) -> SessionRecord | None:
        ...

    @abc.abstractmethod
    def remove_session(self, session_id: str) -> None:
        ...

    @abc.abstractmethod
    def add_grant(self, family: str, record: GrantRecord, *, now: float) -> None:
        ...

    @abc.abstractmethod
    def grant(self, family: str) -> GrantRecord | None:
        ...

    @abc.abstractmethod
    def remember_issuer(self, issuer: str) -> None:
        ...

    @abc.abstractmethod
    def issuers(self) -> frozenset[str]:
        ...

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget codes, sessions and grants (not the issuers: tokens outlive a reset)."""


class _Expiring(Generic[_R]):
    """Records by key, bounded: expired ones pruned now and then, the oldest dropped past the cap."""

    def __init__(self) -> None:
        self.records: dict[str, _R] = {}
        self._added = 0

    def add(self, key: str, record: _R, now: float) -> None:
        self._added += 1
        if self._added % PRUNE_EVERY == 0:
            self.records = {k: r for k, r in self.records.items() if r.expires_at > now}
        self.records[key] = record
        excess = len(self.records) - MAX_RECORDS
        if excess > 0:
            for old in list(itertools.islice(self.records, excess)):
                del self.records[old]


class MemoryGrantStore(GrantStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: _Expiring[CodeRecord] = _Expiring()
        self._used: set[str] = set()
        self._sessions: _Expiring[SessionRecord] = _Expiring()
        self._grants: _Expiring[GrantRecord] = _Expiring()
        self._issuers: dict[str, None] = {}

    def add_code(self, code: str, record: CodeRecord, *, now: float) -> None:
        with self._lock:
            self._codes.add(code, record, now)
            self._used &= self._codes.records.keys()

    def take_code(self, code: str, *, now: float) -> tuple[str, CodeRecord | None]:
        with self._lock:
            record = self._codes.records.get(code)
            if record is None:
                return "unknown", None
            if code in self._used:
                return "used", record
            if record.expires_at <= now:
                return "expired", record
            self._used.add(code)
            return "ok", record

    def peek_code(self, code: str) -> CodeRecord | None:
        return self._codes.records.get(code)

    def add_session(self, session_id: str, record: SessionRecord, *, now: float) -> None:
        with self._lock:
            self._sessions.add(session_id, record, now)

    def session(self, session_id: str) -> SessionRecord | None:
        return self._sessions.records.get(session_id)

    def remove_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.records.pop(session_id, None)

    def add_grant(self, family: str, record: GrantRecord, *, now: float) -> None:
        with self._lock:
            self._grants.add(family, record, now)

    def grant(self, family: str) -> GrantRecord | None:
        return self._grants.records.get(family)

    def remember_issuer(self, issuer: str) -> None:
        if issuer in self._issuers:
            return
        with self._lock:
            if len(self._issuers) < MAX_ISSUERS:
                self._issuers[issuer] = None

    def issuers(self) -> frozenset[str]:
        return frozenset(self._issuers)

    def clear(self) -> None:
        with self._lock:
            self._codes, self._sessions, self._grants = _Expiring(), _Expiring(), _Expiring()
            self._used = set()


# Use a code once (KEYS: its hash; ARGV: now). The record stays, marked used, so a second
# use is told apart from an unknown code (and its tokens revoked).
_TAKE = """
local rec = redis.call('HMGET', KEYS[1], 'data', 'used', 'exp')
if not rec[1] then return {'unknown'} end
if rec[2] == '1' then return {'used', rec[1]} end
if tonumber(rec[3]) <= tonumber(ARGV[1]) then return {'expired', rec[1]} end
redis.call('HSET', KEYS[1], 'used', '1')
return {'ok', rec[1]}
"""


class RedisGrantStore(GrantStore):
    """``code:<code>`` hashes, ``session:<id>`` and ``grant:<family>`` JSON strings, each
    expiring a margin after its record; a set ``issuers``."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._take = connection.redis.register_script(_TAKE)
        self._issuers = connection.key("issuers")
        connection.state_keys.append(self._issuers)
        self._known_issuers: set[str] = set()  # this process added them already

    def _key(self, name: str) -> str:
        return self.connection.key(name)

    @staticmethod
    def _ttl(record: CodeRecord | SessionRecord | GrantRecord, now: float) -> int:
        # Expiry is judged on the mock's clock (the record's expires_at), which may stand
        # still while wall time runs: the TTL is only the namespace's backstop.
        return STATE_TTL

    @guarded
    def add_code(self, code: str, record: CodeRecord, *, now: float) -> None:
        key = self._key("code:" + code)
        with self.connection.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={"data": _dump(record), "used": "0", "exp": repr(record.expires_at)})
            pipe.expire(key, self._ttl(record, now))
            pipe.execute()

    @guarded
    def take_code(self, code: str, *, now: float) -> tuple[str, CodeRecord | None]:
        answer = self._take(keys=[self._key("code:" + code)], args=[repr(now)])
        outcome = str(answer[0])
        assert outcome in _TAKE_OUTCOMES
        return outcome, None if outcome == "unknown" else _load(CodeRecord, str(answer[1]))

    @guarded
    def peek_code(self, code: str) -> CodeRecord | None:
        data = self.connection.redis.hget(self._key("code:" + code), "data")
        return None if data is None else _load(CodeRecord, str(data))

    @guarded
    def add_session(self, session_id: str, record: SessionRecord, *, now: float) -> None:
        self.connection.redis.set(self._key("session:" + session_id), _dump(record), ex=self._ttl(record, now))

    @guarded
    def session(self, session_id: str) -> SessionRecord | None:
        data = self.connection.redis.get(self._key("session:" + session_id))
        return None if data is None else _load(SessionRecord, str(data))

    @guarded
    def remove_session(self, session_id: str) -> None:
        self.connection.redis.delete(self._key("session:" + session_id))

    @guarded
    def add_grant(self, family: str, record: GrantRecord, *, now: float) -> None:
        self.connection.redis.set(self._key("grant:" + family), _dump(record), ex=self._ttl(record, now))

    @guarded
    def grant(self, family: str) -> GrantRecord | None:
        data = self.connection.redis.get(self._key("grant:" + family))
        return None if data is None else _load(GrantRecord, str(data))

    @guarded
    def remember_issuer(self, issuer: str) -> None:
        if issuer in self._known_issuers:
            return
        redis = self.connection.redis
        if redis.scard(self._issuers) < MAX_ISSUERS:
            with redis.pipeline(transaction=False) as pipe:
                pipe.sadd(self._issuers, issuer)
                pipe.expire(self._issuers, STATE_TTL)
                pipe.execute()
        self._known_issuers.add(issuer)

    @guarded
    def issuers(self) -> frozenset[str]:
        return frozenset(str(issuer) for issuer in self.connection.redis.smembers(self._issuers))

    @guarded
    def clear(self) -> None:
        self.connection.unlink_matching("code:*", "session:*", "grant:*")


def _dump(record: CodeRecord | SessionRecord | GrantRecord) -> str:
    return json.dumps(dataclasses.asdict(record), separators=(",", ":"))


def _load(kind: type[_R], data: str) -> _R:
    return kind(**json.loads(data))
