"""Where the mock keeps what changes while it runs: in this process, or in Redis.

One store per concern, each a small interface with its memory and Redis implementations
side by side (``clock``, ``users``, ``modes``, ``tokens``, ``journal``, ``challenges``, and
for OAuth ``clients`` and ``grants``: codes, sessions, what each token family was granted). Keys and
fixtures are not stored: every process loads the same ones (a generated RS256/ES256 key
is the exception, shared through the token store).

In memory (the default) the state is plain dicts under locks: one process, fastest. With
``state: redis://HOST:PORT/DB`` (the ``mockauth[redis]`` extra) the same state maps onto
Redis structures, so any number of workers and machines answer as one mock; what must
be atomic across processes is one Redis command or Lua script.

``open_stores`` sits here, above the implementations, and is called once, by ``MockAuth``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..._settings import Settings
from .challenges import ChallengeStore, MemoryChallengeStore, RedisChallengeStore
from .clients import ClientStore, MemoryClientStore, RedisClientStore
from .clock import ClockStore, MemoryClockStore, RedisClockStore
from .grants import GrantStore, MemoryGrantStore, RedisGrantStore
from .journal import JournalStore, MemoryJournalStore, RedisJournalStore
from .modes import MemoryModeStore, ModeStore, RedisModeStore
from .redis import RedisConnection
from .tokens import MemoryTokenStore, RedisTokenStore, TokenStore
from .users import MemoryUserStore, RedisUserStore, UserStore


class Stores(NamedTuple):
    """The stores of one mock, and the lifecycle they share. Every method is safe to
    call from many threads; in a shared store, from many processes."""

    clock: ClockStore
    users: UserStore
    modes: ModeStore
    tokens: TokenStore
    journal: JournalStore
    challenges: ChallengeStore
    clients: ClientStore
    grants: GrantStore
    connection: RedisConnection | None = None

    @property
    def shared(self) -> bool:
        """Whether other processes may share this state."""
        return self.connection is not None

    @property
    def url(self) -> str:
        return "memory" if self.connection is None else self.connection.url

    def begin(self) -> None:
        """A request starts: a shared store reads what it needs once for the whole request
        (a request sees the state as it was when it started, and its own changes)."""
        if self.connection is not None:
            self.connection.begin()

    def end(self) -> None:
        """The request is answered."""
        if self.connection is not None:
            self.connection.end()

    def initialize(self, seed: Callable[[], None]) -> bool:
        """Give new stores their first state by calling `seed` (the fixture state); a
        shared store that another process has seeded already is joined instead.
        Returns whether `seed` ran."""
        if self.connection is None:
            seed()
            return True
        return self.connection.initialize(seed)

    def close(self) -> None:
        """Let go of connections (nothing to do in memory)."""
        if self.connection is not None:
            self.connection.close()


def memory_stores(journal_size: int = 1000) -> Stores:
    return Stores(
        MemoryClockStore(), MemoryUserStore(), MemoryModeStore(), MemoryTokenStore(),
        MemoryJournalStore(journal_size), MemoryChallengeStore(), MemoryClientStore(), MemoryGrantStore(),
    )


def open_stores(settings: Settings, log: Callable[[str], None] = lambda message: None) -> Stores:
    """The stores the ``state`` setting names."""
    if settings.state == "memory":
        return memory_stores(settings.journal_size)
    connection = RedisConnection(settings.state, settings.state_namespace, log=log)
    return Stores(
        RedisClockStore(connection), RedisUserStore(connection), RedisModeStore(connection),
        RedisTokenStore(connection), RedisJournalStore(connection, settings.journal_size),
        RedisChallengeStore(connection), RedisClientStore(connection), RedisGrantStore(connection), connection,
    )


__all__ = [
    "ChallengeStore",
    "ClientStore",
    "ClockStore",
    "GrantStore",
    "JournalStore",
    "ModeStore",
    "Stores",
    "TokenStore",
    "UserStore",
    "memory_stores",
    "open_stores",
]
