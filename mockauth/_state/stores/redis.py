"""One mock's namespace in Redis, shared by the Redis store of every concern.

The connection owns what the concerns share: the client, the key names
(``mockauth:<namespace>:...``), the outage guard (Redis unreachable becomes
``StoreUnavailable``, which the API answers 503), the heartbeat that renews the
namespace's TTLs and reseeds it when Redis lost it, and the per-request snapshot that
reads the clock, the users' version and the armed modes in one round trip.

The ``redis`` package (the ``mockauth[redis]`` extra) is imported only here, and only
when a ``redis://`` state is asked for.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from ..._errors import ConfigError, StoreUnavailable

# Every key of a namespace expires after a day without a running mock touching it, so an
# abandoned namespace leaves nothing behind in a shared Redis. Running processes renew
# them every HEARTBEAT seconds. No key expires on its own before that: what expires in
# the mock expires on the mock's clock (see stores/tokens.py).
STATE_TTL = 86_400
HEARTBEAT = 30.0

_F = TypeVar("_F", bound=Callable[..., Any])


class _OnRedis(Protocol):
    connection: RedisConnection


def guarded(method: _F) -> _F:
    """For a method of a Redis-backed store: Redis unreachable becomes StoreUnavailable
    (the API answers 503), logged once per outage; the first call after an outage checks
    that the state is still there."""

    @functools.wraps(method)
    def wrapper(self: _OnRedis, *args: Any, **kwargs: Any) -> Any:
        connection = self.connection
        try:
            if connection.check_at <= time.monotonic():
                connection.check()
            result = method(self, *args, **kwargs)
        except connection.unreachable as error:
            connection.down(error)
            raise StoreUnavailable(
                f"The mock's shared state store ({connection.url}) is unreachable; retry later."
            ) from None
        except Exception as error:
            reason = connection.refusal(error)
            if reason is None:
                raise
            connection.down(reason, "refuses to store")
            raise StoreUnavailable(
                f"The mock's shared state store ({connection.url}) refuses to store ({reason}); retry later."
            ) from None
        if connection.outage:
            connection.up()
        return result

    return cast(_F, wrapper)


class _SnapshotPart:
    """What one concern reads into the per-request snapshot."""

    def __init__(self, read: Callable[[Any], object], count: int, parse: Callable[[list[Any]], Any]) -> None:
        self.read, self.count, self.parse = read, count, parse


class RedisConnection:
    """The client and the shared machinery of one namespace (see the module docstring)."""

    def __init__(self, url: str, namespace: str = "default", *, log: Callable[[str], None] = lambda _: None) -> None:
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
        self.unreachable: tuple[type[BaseException], ...] = (
            redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError,
        )
        self.refused: tuple[type[BaseException], ...] = (redis.ResponseError, redis.AuthenticationError)
        # Redis answers, but will not store: full at its maxmemory, a read-only replica,
        # unable to persist (MISCONF), busy with a script, no permission. For clients that
        # is an outage of the store (503), never a bug in mockauth (500).
        self._refusing: tuple[type[BaseException], ...] = (
            redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError,
            redis.exceptions.MasterDownError, redis.exceptions.NoPermissionError,
        )
        self._response_error = redis.ResponseError
        # One retry: a pooled connection that died with a restarted Redis fails once,
        # the retry reconnects. Short timeouts: a lost Redis is a quick 503, not a hang.
        self.redis = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 1), decode_responses=True,
        )
        self.prefix = f"mockauth:{namespace}:"
        # Keys renewed by the heartbeat; each concern's store adds its own.
        self.state_keys = [self.key("seeded")]
        # Run before the fixture seed whenever the namespace is (re)seeded.
        self.on_seed: list[Callable[[], None]] = []
        self.check_at = float("inf")  # no check before initialize()
        self.outage = False
        self._outage_lock = threading.Lock()
        self._seed: Callable[[], None] | None = None
        self._parts: dict[str, _SnapshotPart] = {}
        # Per request (thread): what the concerns read once per request, in one round
        # trip when first needed; any change made by the request drops it.
        self._local = threading.local()

    def key(self, name: str) -> str:
        return self.prefix + name

    # -- the per-request snapshot ----------------------------------------------------

    def snapshot_part(
        self, name: str, read: Callable[[Any], object], count: int, parse: Callable[[list[Any]], Any]
    ) -> None:
        """Have `read(pipeline)` (`count` commands) read once per request; `parse` turns
        their replies into the part's value in ``snapshot()``."""
        self._parts[name] = _SnapshotPart(read, count, parse)

    def begin(self) -> None:
        self._local.active = True
        self._local.snapshot = None

    def end(self) -> None:
        self._local.active = False
        self._local.snapshot = None

    def snapshot(self) -> dict[str, Any] | None:
        """The request's snapshot (each part by name), read now if not yet; None outside a request."""
        local = self._local
        if not getattr(local, "active", False):
            return None
        snapshot: dict[str, Any] | None = local.snapshot
        if snapshot is None:
            # Not MULTI: parsing its extra replies costs more than it buys here.
            with self.redis.pipeline(transaction=False) as pipe:
                for part in self._parts.values():
                    part.read(pipe)
                replies = pipe.execute()
            snapshot, at = {}, 0
            for part_name, part in self._parts.items():
                snapshot[part_name] = part.parse(replies[at:at + part.count])
                at += part.count
            local.snapshot = snapshot
        return snapshot

    def changed(self) -> None:
        if getattr(self._local, "active", False):
            self._local.snapshot = None

    def unlink_matching(self, *patterns: str) -> None:
        """Delete this namespace's keys matching the patterns, a thousand at a time."""
        redis = self.redis
        for pattern in patterns:
            batch: list[str] = []
            for key in redis.scan_iter(match=self.key(pattern), count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    redis.unlink(*batch)
                    batch = []
            if batch:
                redis.unlink(*batch)

    # -- lifecycle -------------------------------------------------------------------

    def initialize(self, seed: Callable[[], None]) -> bool:
        self._seed = seed
        try:
            self.redis.ping()
        except self.unreachable as error:
            raise StoreUnavailable(f"setting 'state': cannot reach {self.url}: {error}") from None
        except self.refused as error:  # a database it does not have, a password it wants
            raise ConfigError(f"setting 'state': {self.url} refused: {error}") from None
        self.check_at = time.monotonic() + HEARTBEAT
        try:
            return self._seed_if_empty()
        except self.unreachable as error:
            raise StoreUnavailable(f"setting 'state': lost {self.url} while starting: {error}") from None
        except self.refused as error:
            raise ConfigError(f"setting 'state': {self.url} refused: {error}") from None

    def _seed_if_empty(self) -> bool:
        """Seed the namespace unless it is seeded: at start, and when Redis came back empty."""
        if self.redis.exists(self.key("seeded")):
            return False
        with self.redis.lock(self.key("lock:seed"), timeout=30, blocking_timeout=30):
            if self.redis.exists(self.key("seeded")):
                return False
            for hook in self.on_seed:
                hook()
            if self._seed is not None:
                self._seed()
            self.redis.set(self.key("seeded"), "1", ex=STATE_TTL)
            return True

    def check(self) -> None:
        """Renew the namespace's TTLs, and seed it again if Redis lost it."""
        self.check_at = time.monotonic() + HEARTBEAT
        with self.redis.pipeline(transaction=False) as pipe:
            for key in self.state_keys:
                pipe.expire(key, STATE_TTL)
            seeded = pipe.execute()[0]
        if not seeded:
            self.log(f"state store {self.url}: namespace {self.namespace!r} is empty (Redis restarted?); seeding it")
            self._seed_if_empty()

    def refusal(self, error: BaseException) -> str | None:
        """Why Redis refused to store, when `error` says it does (see __init__); else None."""
        refusing = isinstance(error, self._refusing) or (
            isinstance(error, self._response_error) and str(error).startswith(("MISCONF", "BUSY"))
        )
        # Without the script's hash or the pipeline's command (key names), which tell a client nothing.
        return str(error).split("caused error: ")[-1].split(". script:")[0].rstrip(".") if refusing else None

    def down(self, error: BaseException | str, what: str = "unreachable") -> None:
        self.check_at = 0.0  # once it answers again, look whether it kept our state
        with self._outage_lock:
            if self.outage:
                return
            self.outage = True
        self.log(
            f"state store {self.url} {what} ({error}); answering 503 temporarily_unavailable until it is back"
        )

    def up(self) -> None:
        with self._outage_lock:
            if not self.outage:
                return
            self.outage = False
        self.log(f"state store {self.url} reachable again")

    def close(self) -> None:
        self.redis.close()


def _redacted_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:[redacted]@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
