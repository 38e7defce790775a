"""Where OAuth grants live: authorization codes (single use), login sessions of the
authorization endpoint, what each token family was granted (client, scope), and the
issuers tokens were signed under.

Codes, sessions and grants expire on the mock's clock, on both stores, and are bounded
as stores/expiring.py says: past the cap a new code or session is refused while every
one held is alive, and the grants that will expire first are dropped, as the refresh
tokens they describe are (stores/tokens.py).
"""

from __future__ import annotations

import abc
import json
import threading
from typing import NamedTuple, TypeVar

from .expiring import Bound, MemoryRecords, RedisRecords
from .redis import STATE_TTL, RedisConnection, guarded
from .tokens import MAX_REFRESH_TOKENS

# Codes live a minute and sessions an hour (_state/grants.py): a cap reached by live ones
# is a flood (or a frozen clock), answered 503 until some expire. A grant lives as long
# as its family's refresh token, and goes as they do past the same cap: the earliest to
# expire first (a refresh token whose grant is gone is refused, never let in).
CODES = Bound("authorization codes", 100_000)
SESSIONS = Bound("login sessions", 100_000)
GRANTS = Bound("grants", MAX_REFRESH_TOKENS, drop_earliest=True)
# Issuers remembered (a mock reached under more URLs than this accepts the others' tokens
# only where they were issued).
MAX_ISSUERS = 64


class CodeRecord(NamedTuple):
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


class SessionRecord(NamedTuple):
    """A browser signed in at the authorization endpoint (its cookie names the session)."""

    username: str
    auth_time: float
    expires_at: float


class GrantRecord(NamedTuple):
    """What a token family was granted: its client and scope, and when the user signed in."""

    client_id: str
    username: str
    scope: str
    auth_time: float
    expires_at: float


_R = TypeVar("_R", CodeRecord, SessionRecord, GrantRecord)


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
    def counts(self) -> dict[str, int]:
        """How many codes, sessions and grants the store holds now."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Forget codes, sessions and grants (not the issuers: tokens outlive a reset)."""


class MemoryGrantStore(GrantStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: MemoryRecords[CodeRecord] = MemoryRecords(CODES)
        self._sessions: MemoryRecords[SessionRecord] = MemoryRecords(SESSIONS)
        self._grants: MemoryRecords[GrantRecord] = MemoryRecords(GRANTS)
        self._issuers: dict[str, None] = {}

    def add_code(self, code: str, record: CodeRecord, *, now: float) -> None:
        self._codes.add(code, record, now)

    def take_code(self, code: str, *, now: float) -> tuple[str, CodeRecord | None]:
        return self._codes.take(code, now)

    def peek_code(self, code: str) -> CodeRecord | None:
        entry = self._codes.get(code)
        return None if entry is None else entry[0]

    def add_session(self, session_id: str, record: SessionRecord, *, now: float) -> None:
        self._sessions.add(session_id, record, now)

    def session(self, session_id: str) -> SessionRecord | None:
        entry = self._sessions.get(session_id)
        return None if entry is None else entry[0]

    def remove_session(self, session_id: str) -> None:
        self._sessions.remove(session_id)

    def add_grant(self, family: str, record: GrantRecord, *, now: float) -> None:
        self._grants.add(family, record, now)

    def grant(self, family: str) -> GrantRecord | None:
        entry = self._grants.get(family)
        return None if entry is None else entry[0]

    def remember_issuer(self, issuer: str) -> None:
        if issuer in self._issuers:
            return
        with self._lock:
            if len(self._issuers) < MAX_ISSUERS:
                self._issuers[issuer] = None

    def issuers(self) -> frozenset[str]:
        return frozenset(self._issuers)

    def counts(self) -> dict[str, int]:
        return {"codes": len(self._codes), "sessions": len(self._sessions), "grants": len(self._grants)}

    def clear(self) -> None:
        for records in (self._codes, self._sessions, self._grants):
            records.clear()


class RedisGrantStore(GrantStore):
    """Codes, sessions and grants as expiring records (``codes``, ``sessions``,
    ``grants``, each with its ``:expiry`` set: see stores/expiring.py); a set ``issuers``."""

    def __init__(self, connection: RedisConnection) -> None:
        self.connection = connection
        self._codes = RedisRecords(connection, "codes", CODES)
        self._sessions = RedisRecords(connection, "sessions", SESSIONS)
        self._grants = RedisRecords(connection, "grants", GRANTS)
        self._issuers = connection.key("issuers")
        connection.state_keys.append(self._issuers)
        self._known_issuers: set[str] = set()  # this process added them already

    @guarded
    def add_code(self, code: str, record: CodeRecord, *, now: float) -> None:
        self._codes.add(code, _dump(record), record.expires_at, now)

    @guarded
    def take_code(self, code: str, *, now: float) -> tuple[str, CodeRecord | None]:
        outcome, text = self._codes.take(code, now)
        return outcome, None if text is None else _load(CodeRecord, text)

    @guarded
    def peek_code(self, code: str) -> CodeRecord | None:
        entry = self._codes.get(code)
        return None if entry is None else _load(CodeRecord, entry[0])

    @guarded
    def add_session(self, session_id: str, record: SessionRecord, *, now: float) -> None:
        self._sessions.add(session_id, _dump(record), record.expires_at, now)

    @guarded
    def session(self, session_id: str) -> SessionRecord | None:
        entry = self._sessions.get(session_id)
        return None if entry is None else _load(SessionRecord, entry[0])

    @guarded
    def remove_session(self, session_id: str) -> None:
        self._sessions.remove(session_id)

    @guarded
    def add_grant(self, family: str, record: GrantRecord, *, now: float) -> None:
        self._grants.add(family, _dump(record), record.expires_at, now)

    @guarded
    def grant(self, family: str) -> GrantRecord | None:
        entry = self._grants.get(family)
        return None if entry is None else _load(GrantRecord, entry[0])

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
    def counts(self) -> dict[str, int]:
        return {"codes": len(self._codes), "sessions": len(self._sessions), "grants": len(self._grants)}

    @guarded
    def clear(self) -> None:
        for records in (self._codes, self._sessions, self._grants):
            records.clear()


def _dump(record: CodeRecord | SessionRecord | GrantRecord) -> str:
    return json.dumps(record._asdict(), separators=(",", ":"))


def _load(kind: type[_R], data: str) -> _R:
    return kind(**json.loads(data))
